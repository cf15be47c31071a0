// A node of the autograd graph: the op that made a tensor, how to get its inputs' gradients
// from its output's gradient, and the tensors it saved for that. Saved tensors are aliases that
// hold their own reference to the storage, so tidy() disposing the originals cannot free them.
// A backward function is the formula alone: apply() runs it in a scope that frees what it made.
import { ArgumentError } from '../errors.js';
import { scoped } from '../scope.js';
import type { Tensor } from '../tensor.js';

/** Where an input's gradient goes: into another node, or into a leaf tensor's .grad. */
export interface Edge {
  node: GradNode | null;
  leaf: Tensor | null;
}

/**
 * The inputs' gradients from the output's. `into`, when the engine passes it (to nodes with
 * `acceptsInto`), holds per input a gradient already accumulated for it that the function may add
 * its own into, in place, returning that same tensor for the input; or null.
 */
export type BackwardFn = (gradOutput: Tensor, into?: readonly (Tensor | null)[]) => (Tensor | null | undefined)[];

export class GradNode {
  readonly edges: (Edge | null)[];
  private saved: { alias: Tensor; version: number; source: Tensor }[] = [];
  private released = false;
  /**
   * Set on a node whose parents write their gradients into one buffer they share and each hand
   * over (split): the engine then keeps that buffer instead of adding it to itself.
   */
  gathers = false;
  /**
   * Set on a node whose backward can add an input's gradient into one the engine already holds
   * for that input (BackwardFn's `into`): a layer norm inside a residual block writes its input's
   * gradient onto the residual's, with no second pass adding the two.
   */
  acceptsInto = false;

  constructor(
    readonly name: string,
    /** Tensors whose gradients this node gives, or a node to hand the gradient to directly. */
    inputs: readonly (Tensor | GradNode | null)[],
    private backwardFn: BackwardFn | null,
  ) {
    this.edges = inputs.map((t) => {
      if (t instanceof GradNode) return { node: t, leaf: null };
      if (!t || !t.requiresGrad) return null;
      return t.gradFn ? { node: t.gradFn, leaf: null } : { node: null, leaf: t };
    });
  }

  /** Registers a tensor the backward function will read; returns the alias to capture. */
  save(t: Tensor): Tensor {
    const alias = t._alias();
    // With createGraph, backward formulas run inside the recorded graph and read saved tensors:
    // the alias must lead back to t, so it gets an identity node whose one edge is t.
    if (t.requiresGrad) alias._setGradFn(new GradNode('SavedTensorBackward', [t], (g) => [g]));
    this.saved.push({ alias, version: t._storage.version, source: t });
    return alias;
  }

  apply(gradOutput: Tensor, into?: readonly (Tensor | null)[]): (Tensor | null | undefined)[] {
    if (this.released || !this.backwardFn) {
      throw new ArgumentError(
        `backward: trying to backward through the graph a second time (${this.name}); its saved tensors were freed. ` +
          'Pass { retainGraph: true } to the first backward() if you need to backward twice.',
      );
    }
    for (const s of this.saved) {
      if (s.alias._storage.version !== s.version) {
        throw new ArgumentError(
          `backward: a tensor saved by ${this.name} was modified by an in-place operation after it was saved`,
        );
      }
    }
    // The backward runs in a scope: its temporaries are freed, the gradients it returns are not.
    const backwardFn = this.backwardFn;
    return scoped(() => backwardFn(gradOutput, into));
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.backwardFn = null;
    for (const s of this.saved) s.alias.dispose();
    this.saved = [];
  }
}
