/**
 * A whole Langevin chain on the 2D energy MLP as one routine (mlp_energy_host.ts for f and df/dy),
 * with lib/samplers/langevin.ts's semantics and random draws given in advance, on
 *   log p(y_b) = scale_b f(y_b) - precision_b ||y_b - anchor_b||^2 / 2,
 * which is DRL's recovery conditional (scale 1 / s_t^2, precision 1 / sigma_{t+1}^2, anchor
 * x_{t+1}). Through tfjs each step is some 35 small kernels around the net's one; here the chain's
 * arithmetic on 256 2D points is a few microseconds per step besides the net.
 */
import { type MlpArrays, mlpEnergyGrad, type MlpMath, type MlpShape } from "./mlp_energy_host.ts";

export interface ChainArrays {
  /** [B, D] the chain's start. */
  y0: Float32Array;
  /** [B, D]. */
  anchor: Float32Array;
  /** [B] each. */
  scale: Float32Array;
  precision: Float32Array;
  /** [B] the squared step size s^2. */
  stepSize: Float32Array;
  /** Per step: standard normal draws [B, D] and, for MALA, uniforms [B]. */
  noises: Float32Array[];
  uniforms: Float32Array[] | null;
}

export interface ChainOutputs {
  /** [B, D] y_K. */
  y: Float32Array;
  /** [B] mean acceptance probability (ULA) or accepted share (MALA) of the K proposals. */
  acceptance: Float32Array;
  /** [B] ||y_K - y_0||. */
  displacement: Float32Array;
}

interface State {
  y: Float32Array;
  logp: Float64Array;
  grad: Float32Array;
}

/** log p and its gradient at `y` into `out` (energy and net gradient via `energy`, `netGrad`). */
function evaluate(
  math: MlpMath,
  s: MlpShape,
  net: Omit<MlpArrays, "y">,
  c: ChainArrays,
  out: State,
  energy: Float32Array,
): void {
  mlpEnergyGrad(math, s, { ...net, y: out.y }, energy, out.grad);
  const d = s.inputDim;
  for (let b = 0; b < s.batch; b++) {
    let sq = 0;
    for (let i = 0; i < d; i++) {
      const diff = out.y[b * d + i] - c.anchor[b * d + i];
      sq += diff * diff;
      out.grad[b * d + i] = out.grad[b * d + i] * c.scale[b] - c.precision[b] * diff;
    }
    out.logp[b] = energy[b] * c.scale[b] - 0.5 * c.precision[b] * sq;
  }
}

function newState(s: MlpShape): State {
  return {
    y: new Float32Array(s.batch * s.inputDim),
    logp: new Float64Array(s.batch),
    grad: new Float32Array(s.batch * s.inputDim),
  };
}

/** K = noises.length steps of ULA (uniforms null) or MALA from y0; noiseScale as in langevin.ts. */
export function mlpLangevinChain(
  math: MlpMath,
  s: MlpShape,
  net: Omit<MlpArrays, "y">,
  c: ChainArrays,
  noiseScale: number,
  out: ChainOutputs,
): void {
  const { batch: n, inputDim: d } = s;
  const steps = c.noises.length;
  const energy = new Float32Array(n);
  let state = newState(s);
  let proposal = newState(s);
  state.y.set(c.y0);
  evaluate(math, s, net, c, state, energy);
  const acceptSum = new Float64Array(n);
  const mean = new Float64Array(d);
  for (let k = 0; k < steps; k++) {
    const noise = c.noises[k];
    for (let b = 0; b < n; b++) {
      const s2 = c.stepSize[b], sd = Math.sqrt(s2) * noiseScale;
      for (let i = 0; i < d; i++) {
        const j = b * d + i;
        proposal.y[j] = Math.fround(state.y[j] + 0.5 * s2 * state.grad[j]) + sd * noise[j];
      }
    }
    evaluate(math, s, net, c, proposal, energy);
    for (let b = 0; b < n; b++) {
      const s2 = c.stepSize[b], twoVar = 2 * s2 * noiseScale * noiseScale;
      let fwd = 0, bwd = 0;
      for (let i = 0; i < d; i++) {
        const j = b * d + i;
        mean[i] = state.y[j] + 0.5 * s2 * state.grad[j];
        const f = proposal.y[j] - mean[i];
        const back = state.y[j] - (proposal.y[j] + 0.5 * s2 * proposal.grad[j]);
        fwd += f * f;
        bwd += back * back;
      }
      // log alpha = log p(y') - log p(y) + log q(y | y') - log q(y' | y).
      const logAlpha = proposal.logp[b] - state.logp[b] - bwd / twoVar + fwd / twoVar;
      const acc = Math.min(Math.exp(logAlpha), 1);
      if (c.uniforms) {
        const accept = c.uniforms[k][b] < acc;
        acceptSum[b] += accept ? 1 : 0;
        if (!accept) {
          // Keep the current point: copy it over the proposal, which becomes the state below.
          for (let i = 0; i < d; i++) {
            proposal.y[b * d + i] = state.y[b * d + i];
            proposal.grad[b * d + i] = state.grad[b * d + i];
          }
          proposal.logp[b] = state.logp[b];
        }
      } else {
        acceptSum[b] += acc;
      }
    }
    [state, proposal] = [proposal, state];
  }
  out.y.set(state.y);
  for (let b = 0; b < n; b++) {
    out.acceptance[b] = acceptSum[b] / Math.max(steps, 1);
    let sq = 0;
    for (let i = 0; i < d; i++) {
      const diff = state.y[b * d + i] - c.y0[b * d + i];
      sq += diff * diff;
    }
    out.displacement[b] = Math.sqrt(sq);
  }
}
