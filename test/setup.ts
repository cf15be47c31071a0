// Every test run poisons fresh native buffers (0xff bytes: NaN for float32) so a kernel that
// leaves part of its output unwritten fails its comparison instead of passing on zeros.
import { native } from '../lib/native.js';

native.setPoison(true);
