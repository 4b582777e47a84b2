// A stacked bar chart as plain SVG text (no browser, no dependency), in the manner of the reference's
// HelloBench histogram: one bar per image × mode, split into phases, bars grouped by image.

/** One bar: its label and one value per phase (same order as the chart's phases). */
export interface Bar {
  group: string;
  label: string;
  values: number[];
}

export interface ChartSpec {
  title: string;
  subtitle?: string;
  /** Phase names and colours, bottom to top. */
  phases: { name: string; color: string }[];
  bars: Bar[];
  /** Value axis label, e.g. "seconds". */
  unit: string;
  /** Dashed horizontal lines across the plot (a target, say), each with its label at the right. */
  marks?: { value: number; label: string }[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Render `spec` as a standalone SVG document. */
export function stackedBarSvg(spec: ChartSpec): string {
  const barW = 34, gap = 10, groupGap = 34, left = 64, top = 70, plotH = 320, bottom = 92;
  const groups = [...new Set(spec.bars.map((b) => b.group))];
  const width = Math.max(640, left + 24 + spec.bars.length * (barW + gap) + groups.length * groupGap + 150);
  const height = top + plotH + bottom;
  const max = niceMax(Math.max(...spec.bars.map((b) => b.values.reduce((a, v) => a + v, 0)), 1e-9));
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="24" font-size="15" font-weight="bold">${esc(spec.title)}</text>`,
    ...(spec.subtitle ? [`<text x="${left}" y="44" fill="#555">${esc(spec.subtitle)}</text>`] : []),
  ];
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5;
    out.push(`<line x1="${left}" x2="${width - 150}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`, `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  out.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(spec.unit)}</text>`);
  let x = left + 16;
  for (const group of groups) {
    const bars = spec.bars.filter((b) => b.group === group);
    const start = x;
    for (const bar of bars) {
      let acc = 0;
      bar.values.forEach((v, i) => {
        if (v <= 0) return;
        out.push(`<rect x="${x}" y="${y(acc + v)}" width="${barW}" height="${Math.max(0.5, y(acc) - y(acc + v))}" fill="${spec.phases[i]?.color ?? '#999'}"><title>${esc(`${group} ${bar.label} ${spec.phases[i]?.name ?? ''}: ${fmt(v)}`)}</title></rect>`);
        acc += v;
      });
      out.push(`<text x="${x + barW / 2}" y="${y(acc) - 4}" text-anchor="middle" font-size="10">${fmt(acc)}</text>`);
      out.push(`<text transform="translate(${x + barW / 2 + 4} ${top + plotH + 8}) rotate(45)" font-size="10">${esc(bar.label)}</text>`);
      x += barW + gap;
    }
    out.push(`<text x="${(start + x - gap) / 2}" y="${height - 12}" text-anchor="middle" font-weight="bold">${esc(group)}</text>`);
    x += groupGap;
  }
  for (const m of spec.marks ?? []) {
    if (m.value > max) continue;
    out.push(`<line x1="${left}" x2="${width - 150}" y1="${y(m.value)}" y2="${y(m.value)}" stroke="#c0392b" stroke-dasharray="5 4"/>`, `<text x="${width - 146}" y="${y(m.value) + 4}" fill="#c0392b">${esc(m.label)}</text>`);
  }
  out.push(`<line x1="${left}" x2="${width - 150}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  spec.phases.forEach((p, i) => {
    const ly = top + 10 + (spec.phases.length - 1 - i) * 20;
    out.push(`<rect x="${width - 130}" y="${ly}" width="14" height="14" fill="${p.color}"/>`, `<text x="${width - 110}" y="${ly + 11}">${esc(p.name)}</text>`);
  });
  out.push('</svg>', '');
  return out.join('\n');
}

/** A round axis maximum at or above `v` (1, 2 or 5 × 10^n). */
function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 5, 10].find((m) => m * p >= v) ?? 10) * p;
}

function fmt(v: number): string {
  return v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2);
}
