// Hardtanh: F.hardtanh as a layer, with PyTorch's defaults and repr.
import { ArgumentError } from '../../errors.js';
import type { Tensor } from '../../tensor.js';
import { hardtanh } from '../functional/activation.js';
import { Module, reprFloat } from '../module.js';

export class Hardtanh extends Module {
  constructor(readonly minVal = -1, readonly maxVal = 1) {
    super();
    if (!(maxVal > minVal)) throw new ArgumentError(`Hardtanh: maxVal (${maxVal}) must be greater than minVal (${minVal})`);
  }

  forward(x: Tensor): Tensor {
    return hardtanh(x, this.minVal, this.maxVal);
  }

  override extraRepr(): string {
    return `min_val=${reprFloat(this.minVal)}, max_val=${reprFloat(this.maxVal)}`;
  }
}
