// Reverse-mode differentiation: visit the graph behind `root` in reverse topological order,
// hand each node the sum of the gradients flowing into it, and accumulate into leaves' .grad.
// Intermediate gradients are freed as soon as their node has consumed them.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { onesLike } from '../ops/creation.js';
import { isKept, keep, tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { isGradEnabled, withGradMode } from './grad_mode.js';
import type { GradNode } from './node.js';

export interface BackwardOptions {
  retainGraph?: boolean;
  /** Record the backward pass itself, for higher-order gradients. */
  createGraph?: boolean;
}

function topoOrder(root: GradNode): GradNode[] {
  const order: GradNode[] = [];
  const visited = new Set<GradNode>();
  // Iterative DFS: deep graphs (long RNN unrolls) must not overflow the JS stack.
  const stack: [GradNode, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i < node.edges.length) {
      top[1]++;
      const next = node.edges[i]?.node;
      if (next && !visited.has(next)) {
        visited.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(node);
      stack.pop();
    }
  }
  return order.reverse();
}

// Leaf gradients are later updated in place (accumulation, optimizers), so a leaf must own its
// gradient's storage alone; otherwise it gets a copy.
function accumulateLeaf(leaf: Tensor, grad: Tensor, shared: boolean): void {
  if (leaf.grad === null) {
    const exclusive = !shared && grad.isContiguous() && grad._ownsStorageAlone();
    leaf.grad = keep(exclusive ? grad : grad.clone());
  } else if (isGradEnabled()) {
    // createGraph: the accumulated gradient is itself in the graph, so add out of place.
    const previous = leaf.grad;
    leaf.grad = keep(previous.add(grad));
    previous.dispose();
  } else {
    leaf.grad.add_(grad);
  }
}

export function runBackward(root: Tensor, gradient: Tensor | undefined, options: BackwardOptions = {}): void {
  if (root.isDisposed) throw new ArgumentError(`backward: the tensor of shape ${fmtShape(root.shape)} was disposed; call backward() before disposing it`);
  if (gradient !== undefined && gradient.isDisposed) throw new ArgumentError(`backward: the gradient of shape ${fmtShape(gradient.shape)} was disposed`);
  if (!root.requiresGrad) {
    throw new ArgumentError('backward: the tensor does not require grad and has no grad_fn');
  }
  if (gradient !== undefined && gradient.shape.join(',') !== root.shape.join(',')) {
    throw new ShapeError(`backward: gradient shape ${fmtShape(gradient.shape)} does not match tensor shape ${fmtShape(root.shape)}`);
  }
  if (gradient === undefined && root.numel !== 1) {
    throw new ShapeError(`backward: grad can be implicitly created only for scalar outputs, got shape ${fmtShape(root.shape)}`);
  }
  const retain = options.retainGraph ?? options.createGraph ?? false;
  // Everything made here is freed at the end except the leaves' gradients (kept).
  tidy(() =>
    withGradMode(options.createGraph ?? false, () => {
      const seed = gradient === undefined ? onesLike(root) : gradient.detach();
      if (!root.gradFn) {
        accumulateLeaf(root, seed, false);
        return;
      }
      const pending = new Map<GradNode, Tensor>([[root.gradFn, seed]]);
      const isPending = (t: Tensor) => {
        for (const v of pending.values()) if (v === t) return true;
        return false;
      };
      // A pending gradient that nothing else holds (no other node's pending entry, no alias, not
      // kept, not among the gradients just returned) takes the next one in place: no new tensor.
      // A pending gradient the engine alone holds: one pending entry, no alias, not kept, dense.
      const ownedPending = (prev: Tensor) => {
        if (isGradEnabled() || isKept(prev) || !prev.isContiguous() || !prev._ownsStorageAlone()) return false;
        let holders = 0;
        for (const v of pending.values()) if (v === prev) holders++;
        return holders === 1;
      };
      const accumulatesInPlace = (prev: Tensor, g: Tensor, grads: readonly (Tensor | null | undefined)[]) => {
        if (prev === g || grads.includes(prev)) return false;
        if (prev.dtype !== g.dtype || prev.device !== g.device || prev.shape.length !== g.shape.length || !prev.shape.every((s, i) => s === g.shape[i])) return false;
        return ownedPending(prev);
      };
      const free = (t: Tensor) => {
        if (!isPending(t) && !isKept(t)) t.dispose();
      };
      // For a node with acceptsInto: per edge, the gradient pending for the node it leads to, when
      // the backward may add into it in place: the engine's alone (as for accumulatesInPlace), not
      // the gradient the node reads, and no other edge of the node leads there.
      const intoFor = (node: GradNode, gradOut: Tensor): (Tensor | null)[] | undefined => {
        if (!node.acceptsInto || isGradEnabled()) return undefined;
        return node.edges.map((edge, i) => {
          const target = edge?.node;
          const prev = target ? pending.get(target) : undefined;
          if (!target || !prev || prev === gradOut || node.edges.some((e, j) => j !== i && e?.node === target)) return null;
          return ownedPending(prev) ? prev : null;
        });
      };
      for (const node of topoOrder(root.gradFn)) {
        const gradOut = pending.get(node);
        pending.delete(node);
        if (!gradOut) {
          if (!retain) node.release();
          continue;
        }
        const into = intoFor(node, gradOut);
        const grads = node.apply(gradOut, into);
        if (!retain) node.release();
        // The incoming gradient is done with unless handed on as-is: freeing it now lets a view of
        // it returned here (a transpose's gradient) own its storage alone, so a leaf takes it
        // without a copy.
        const consumed: Tensor[] = [];
        if (grads.includes(gradOut)) consumed.push(gradOut);
        else free(gradOut);
        node.edges.forEach((edge, i) => {
          const g = grads[i];
          if (!g) return;
          if (into && g === into[i]) return;  // added into the gradient already pending there
          consumed.push(g);
          if (!edge) return;
          if (edge.leaf) {
            accumulateLeaf(edge.leaf, g, grads.indexOf(g) !== grads.lastIndexOf(g) || isPending(g));
          } else if (edge.node) {
            const prev = pending.get(edge.node);
            if (prev === g && edge.node.gathers) return;
            if (prev && accumulatesInPlace(prev, g, grads)) {
              prev.add_(g);
              return;
            }
            pending.set(edge.node, prev ? prev.add(g) : g);
            if (prev) consumed.push(prev);
          }
        });
        for (const t of consumed) free(t);
      }
    }),
  );
}
