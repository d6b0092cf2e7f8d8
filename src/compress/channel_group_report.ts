/**
 * What grouped structured pruning will cut, for a user to check before pruning
 * (`apc compress --method structured --explain-groups [--json FILE]`): every channel group with
 * its width, whether it is frozen, its producers, member nodes, the weight axes cut on the
 * producer and consumer side, and the width kept at the given rate.
 */
import type { ChannelCut, ChannelGroup } from '../models/graph/channel_groups.js';
import { channelGroups } from '../models/graph/channel_groups.js';
import { graphOf, type ModelConfig } from '../models/model_config.js';
import { groupRates } from './group_prune.js';
import { keptFilters } from './structured_prune.js';

export interface ChannelGroupEntry extends ChannelGroup {
  /** Rate of this group at the global rate (VGG: the spec's table; 0 when frozen). */
  readonly rate: number;
  /** Channels kept: max(1, floor(width · (1 − rate))), the full width when frozen. */
  readonly kept: number;
}

export interface ChannelGroupReport {
  /** Family of the model ('vgg', 'resnet', 'mobilenetv2', 'graph'). */
  readonly model: string;
  /** Global rate p the kept widths are planned at. */
  readonly rate: number;
  readonly groups: readonly ChannelGroupEntry[];
}

/** The channel groups of `config` with the widths a one-shot cut at global rate `p` keeps. */
export function channelGroupReport(config: ModelConfig, p: number): ChannelGroupReport {
  const groups = channelGroups(graphOf(config));
  const rates = groupRates(config, p);
  return {
    model: config.kind, rate: p,
    groups: groups.map((g, i) => ({ ...g, rate: rates[i], kept: g.frozen ? g.width : keptFilters(g.width, rates[i]) })),
  };
}

/** `weight[axis a]`, with the group's offset along it and the flatten row rule where they apply. */
export function formatChannelCut(c: ChannelCut): string {
  return `${c.weight}[axis ${c.axis}${c.offset ? `, from ${c.offset}` : ''}${c.period ? `, row r = channel r mod ${c.period}` : ''}]`;
}

/** Plain-text listing of a report, one block per group. */
export function formatChannelGroupReport(r: ChannelGroupReport): string {
  const free = r.groups.filter((g) => !g.frozen);
  const lines = [`${r.groups.length} channel groups (${free.length} free) of this ${r.model}; kept widths at rate ${r.rate}:`];
  for (const g of r.groups) {
    lines.push('', `group ${g.id}: width ${g.width} → ${g.kept}${g.frozen ? ` (frozen: ${g.frozen})` : ` (rate ${+g.rate.toFixed(6)})`}`,
      `  producers: ${g.producers.join(', ') || '—'}`,
      `  members:   ${g.members.join(', ')}`,
      `  cut (outputs):   ${g.outputs.map(formatChannelCut).join(', ') || '—'}`,
      `  cut (consumers): ${g.consumers.map(formatChannelCut).join(', ') || '—'}`);
  }
  return `${lines.join('\n')}\n`;
}
