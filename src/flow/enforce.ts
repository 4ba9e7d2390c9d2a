// What each verdict action does to a connection: the one map from FMC's action words to
// enforcement, used by the TLS machine (splice or refuse) and the explicit HTTP path (forward,
// block page, warning page, reset) alike — a new action is added here once.
import type { VerdictAction } from '../policy/index.js';

export interface Enforcement {
  /** Let the flow through (splice, forward). */
  readonly allow: boolean;
  /** Refuse with a TCP reset rather than a FIN or an HTTP answer. */
  readonly reset: boolean;
  /**
   * Interactive Block: a web request is shown a warning page whose "continue" lets the user
   * through; inside TLS, where no page can be shown, it is a plain block.
   */
  readonly interactive: boolean;
}

const ALLOW: Enforcement = Object.freeze({ allow: true, reset: false, interactive: false });

const BY_ACTION: Readonly<Record<VerdictAction, Enforcement>> = Object.freeze({
  Allow: ALLOW,
  Trust: ALLOW,
  Block: Object.freeze({ allow: false, reset: false, interactive: false }),
  'Block with reset': Object.freeze({ allow: false, reset: true, interactive: false }),
  'Interactive Block': Object.freeze({ allow: false, reset: false, interactive: true }),
  'Interactive Block with reset': Object.freeze({ allow: false, reset: true, interactive: true }),
});

export function enforcementOf(action: VerdictAction): Enforcement {
  return BY_ACTION[action];
}
