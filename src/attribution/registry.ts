/**
 * The one list of attribution methods: the CLI's `--attribution gradcam,lrp,…` choices come from
 * `kinds()`, and `makeAttribution(kind, cfg)` validates cfg with the method's own schema.
 */
import type { AttributionKind, AttributionMethod } from './attribution_method.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { Ebp } from './ebp.js';
import { graphRelevanceGap } from './graph_relevance.js';
import { GradCam } from './grad_cam.js';
import { GradientXInput } from './gradient_x_input.js';
import { IntegratedGradients } from './integrated_gradients.js';
import { Lrp } from './lrp.js';
import { Rap } from './rap.js';
import { SmoothGrad } from './smooth_grad.js';

export class Registry<T> {
  private readonly makers = new Map<string, (cfg: unknown) => T>();
  constructor(private readonly what: string) {}

  add(kind: string, make: (cfg: unknown) => T): void {
    if (this.makers.has(kind)) throw new Error(`${this.what} '${kind}' registered twice`);
    this.makers.set(kind, make);
  }

  has(kind: string): boolean {
    return this.makers.has(kind);
  }

  make(kind: string, cfg: unknown = {}): T {
    const make = this.makers.get(kind);
    if (!make) throw new Error(`unknown ${this.what} '${kind}'; known: ${this.kinds().join(', ')}`);
    return make(cfg);
  }

  kinds(): string[] {
    return [...this.makers.keys()].sort();
  }
}

export const attributionMethods = new Registry<AttributionMethod>('attribution method');
const builtins: Record<AttributionKind, (cfg: unknown) => AttributionMethod> = {
  gradcam: (c) => new GradCam(c),
  lrp: (c) => new Lrp(c),
  rap: (c) => new Rap(c),
  ebp: (c) => new Ebp(c),
  ig: (c) => new IntegratedGradients(c),
  smoothgrad: (c) => new SmoothGrad(c),
  gradxinput: (c) => new GradientXInput(c),
};
for (const [kind, make] of Object.entries(builtins)) attributionMethods.add(kind, make);

/** The paper's four evaluation methods (attribution spec), in its order. */
export const PAPER_METHODS: readonly AttributionKind[] = ['gradcam', 'lrp', 'rap', 'ebp'];

/** Short names accepted on the command line, mapped to the kind results are stored under. */
export const ATTRIBUTION_ALIASES: Readonly<Record<string, AttributionKind>> = { gxi: 'gradxinput' };

/** A method by kind (or alias), its config validated (errors name the method and the field). */
export function makeAttribution(kind: string, cfg: unknown = {}): AttributionMethod {
  return attributionMethods.make(ATTRIBUTION_ALIASES[kind] ?? kind, cfg);
}

/** Methods that walk the graph with per-op relevance rules (`graphRelevancePass`): LRP, RAP, EBP. */
const RELEVANCE_METHODS: readonly string[] = ['lrp', 'rap', 'ebp'];

/**
 * Why `kind` cannot explain `net` (undefined when it can): LRP, RAP and EBP need a relevance rule
 * for every op of the graph (graph.md §4; all op kinds of the graph model have one). Callers skip
 * such a method and say so instead of producing a wrong map.
 */
export function unsupportedReason(kind: string, net: GraphNet): string | undefined {
  if (!RELEVANCE_METHODS.includes(ATTRIBUTION_ALIASES[kind] ?? kind)) return undefined;
  return graphRelevanceGap(net);
}

/** Registered kinds, sorted. */
export function kinds(): string[] {
  return attributionMethods.kinds();
}

/**
 * Parses a CLI list such as 'gradcam,lrp,gxi' (trimmed, aliases resolved, de-duplicated; unknown
 * kinds are errors).
 */
export function parseAttributionList(list: string): string[] {
  const out = [...new Set(list.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => ATTRIBUTION_ALIASES[s] ?? s))];
  for (const k of out) {
    if (!attributionMethods.has(k)) throw new Error(`--attribution: unknown method '${k}'; known: ${kinds().join(', ')} (gxi = gradxinput)`);
  }
  return out;
}
