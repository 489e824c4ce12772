import { describe, expect, it } from 'vitest';
import { linearTicks, plotsOf, renderMarkdown, renderSvg } from '../../bench/render.js';
import type { ResultLine } from '../../bench/report.js';

// The renderer of `npm run bench`'s docs/benchmarks.md and plots, from result lines as bench files
// append them (no Docker).

const lines: ResultLine[] = [
  {
    kind: 'row',
    goal: '0 -> 20 engines ready, controller / Engine API at its best concurrency',
    anchor: 'Engine API, 8 at a time: 4,000 ms',
    measured: '1.02x',
    goalText: '<= 1.05x',
    verdict: 'PASS',
  },
  {
    kind: 'row',
    goal: 'RSS holding 20 engines idle',
    measured: '81 MiB',
    goalText: '<= 70 MiB',
    verdict: 'WARN',
  },
  {
    kind: 'section',
    title: '0 -> 20 engines',
    markdown: '| round | mode |\n|---|---|\n| 1 | controller |',
    plots: ['startup-20'],
  },
  {
    kind: 'series',
    plot: 'startup-20',
    title: '0 -> 20 engines answering',
    xLabel: 'seconds from the save / spawn',
    yLabel: 'engines answering',
    name: 'controller',
    points: [
      [0, 0],
      [1.5, 1],
      [4.2, 20],
    ],
  },
  {
    kind: 'series',
    plot: 'startup-20',
    title: '0 -> 20 engines answering',
    xLabel: 'seconds from the save / spawn',
    yLabel: 'engines answering',
    name: 'docker run <& "quoted">',
    points: [
      [0, 0],
      [1.1, 1],
      [4.0, 20],
    ],
  },
  { kind: 'section', title: 'Planning', markdown: 'planTick is linear.' },
  {
    kind: 'series',
    plot: 'plan-growth',
    title: 'planTick per engine',
    xLabel: 'engines',
    yLabel: 'µs per engine',
    name: 'planTick',
    xScale: 'log',
    points: [
      [10, 7],
      [100, 0.9],
      [1000, 1.2],
      [10000, 1.9],
    ],
  },
];

const run = {
  date: '2026-12-07T23:00:00.000Z',
  machine: { cpus: 2, docker: '20.10.24' },
  names: ['startup', 'plan'],
  env: { BENCH_ROUNDS: '1' },
};

/** Checks that every tag of `svg` is closed in order (a structural XML check) and answers the tag names seen. */
function checkWellFormed(svg: string): string[] {
  const stack: string[] = [];
  const seen: string[] = [];
  for (const [, closing, name, , selfClosing] of svg.matchAll(
    /<(\/?)([a-zA-Z]+)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g,
  )) {
    if (closing) expect(stack.pop(), `</${name}>`).toBe(name);
    else if (!selfClosing) stack.push(name!);
    seen.push(name!);
  }
  expect(stack).toEqual([]);
  // Nothing outside tags looks like markup: every < and & in text is escaped.
  const text = svg.replace(/<(\/?)([a-zA-Z]+)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g, '');
  expect(text).not.toMatch(/[<>]|&(?!amp;|lt;|gt;|quot;)/);
  return seen;
}

describe('the benchmark report', () => {
  it('writes the header, the verdict table with anchors, the goals not met and each section with its plot', () => {
    const md = renderMarkdown(lines, run);
    expect(md).toContain(
      'Written by `npm run bench` on 2026-12-07T23:00:00.000Z, on CPUs 2, Docker 20.10.24.',
    );
    expect(md).toContain('Command: `BENCH_ROUNDS=1 npm run bench -- startup plan`');
    expect(md).toContain('[benchmarking.md](benchmarking.md)');
    expect(md).toContain(
      '| 0 -> 20 engines ready, controller / Engine API at its best concurrency | Engine API, 8 at a time: 4,000 ms | 1.02x | <= 1.05x | PASS |',
    );
    expect(md).toContain('| RSS holding 20 engines idle | none (absolute) | 81 MiB | <= 70 MiB | WARN |');
    expect(md).toContain('### Goals not met\n\n- RSS holding 20 engines idle: 81 MiB; goal <= 70 MiB\n');
    const startup = md.indexOf('## 0 -> 20 engines');
    const planning = md.indexOf('## Planning');
    expect(startup).toBeGreaterThan(md.indexOf('## Verdicts'));
    expect(planning).toBeGreaterThan(startup);
    // A plot named by a section is drawn under it; one no section names comes at the end.
    expect(md.indexOf('![0 -> 20 engines answering](benchmarks-startup-20.svg)')).toBeGreaterThan(startup);
    expect(md.indexOf('![0 -> 20 engines answering](benchmarks-startup-20.svg)')).toBeLessThan(planning);
    expect(md.indexOf('## Plots\n\n![planTick per engine](benchmarks-plan-growth.svg)')).toBeGreaterThan(
      planning,
    );
    expect(renderMarkdown(lines, run)).toBe(md);
  });

  it('says plainly when every goal was met', () => {
    expect(renderMarkdown([lines[0]!], run)).toContain('None: every goal of this run was met.');
  });

  it('draws each plot as well-formed SVG with a title, axes, ticks and a legend entry per series', () => {
    const plots = plotsOf(lines);
    expect([...plots.keys()]).toEqual(['startup-20', 'plan-growth']);
    const svg = renderSvg(plots.get('startup-20')!);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    const tags = checkWellFormed(svg);
    expect(tags.filter((t) => t === 'polyline')).toHaveLength(2);
    expect(svg).toContain('<title>0 -&gt; 20 engines answering</title>');
    const legend = [...svg.matchAll(/<g class="legend">.*?<text[^>]*>([^<]*)<\/text><\/g>/g)].map(
      (m) => m[1],
    );
    expect(legend).toEqual(['controller', 'docker run &lt;&amp; &quot;quoted&quot;&gt;']);
    // Told apart in grey too: each line has its own dash pattern.
    const dashes = [...svg.matchAll(/<polyline[^>]*?(?: stroke-dasharray="([^"]*)")?\s+points=/g)].map(
      (m) => m[1] ?? '',
    );
    expect(new Set(dashes).size).toBe(2);
    expect(svg).toContain('>seconds from the save / spawn</text>');
    expect(svg).toContain('>engines answering</text>');
    expect(renderSvg(plots.get('startup-20')!)).toBe(svg);
  });

  it('draws a log x axis with a tick per power of ten', () => {
    const svg = renderSvg(plotsOf(lines).get('plan-growth')!);
    checkWellFormed(svg);
    for (const label of ['10', '100', '1,000', '10,000']) expect(svg).toContain(`>${label}</text>`);
  });

  it('picks round ticks', () => {
    expect(linearTicks(0, 20)).toEqual([0, 5, 10, 15, 20]);
    expect(linearTicks(0, 7.3)).toEqual([0, 2, 4, 6]);
    expect(linearTicks(0, 0.9)).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
  });
});
