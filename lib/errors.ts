// Every public entry point reports bad input with one of these; messages name the op and shapes.

export class KindlingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Shapes that do not fit the op: `ShapeError('matmul: [2,3] @ [4,5]: inner dims 3 != 4')`. */
export class ShapeError extends KindlingError {}
/** A dtype the op does not accept, or operands whose dtypes cannot be combined. */
export class DTypeError extends KindlingError {}
/** Operands on different devices, or a device that is not available. */
export class DeviceError extends KindlingError {}
/** Any other invalid argument: an out-of-range dim, a negative size, a disposed tensor. */
export class ArgumentError extends KindlingError {}
/** A file that could not be read or written: names the op, the path and the cause (`code` holds ENOENT, EACCES, ...). */
export class IOError extends KindlingError {
  constructor(message: string, readonly path?: string, readonly code?: string) {
    super(message);
  }
}
/** File or table contents that are malformed or inconsistent (corrupt headers, mismatched counts, bad numbers). */
export class DataError extends KindlingError {}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
