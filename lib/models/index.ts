// kd.models: ready-made architectures. Each family lives in its own file.
export { kerasMnistCnn, mlp } from './vision.js';
