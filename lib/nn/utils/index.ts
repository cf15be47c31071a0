// kd.nn.utils: helpers around the modules, as torch.nn.utils (rnn: packed variable-length batches).
export * as rnn from './rnn.js';
