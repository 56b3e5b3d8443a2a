/**
 * Line charts as SVG text, for the benchmarks' plots (bench/results/*.svg): a few lines over time on
 * one axis of records per second, with optional shaded stretches (e.g. time back-pressured). No
 * plotting library: a handful of lines and rectangles.
 */

export interface PlotLine {
  label: string;
  color: string;
  /** [x, y] in the chart's units, x ascending. */
  points: ReadonlyArray<readonly [number, number]>;
}

export interface PlotBand {
  from: number;
  to: number;
}

export interface LineChart {
  title: string;
  /** The x axis runs from 0 to here. */
  xMax: number;
  /** Labelled ticks under the x axis. */
  xTicks: ReadonlyArray<{ at: number; label: string }>;
  lines: readonly PlotLine[];
  /** Shaded stretches of x, drawn under the lines, with their legend entry. */
  bands?: { label: string; color: string; spans: readonly PlotBand[] };
  width?: number;
  height?: number;
}

const LEFT = 50;
const RIGHT = 10;
const BOTTOM = 30;
const TOP = 20;
/** About the width of one character at font-size 11, for placing legend entries. */
const CHAR_PX = 6;

export function lineChart(chart: LineChart): string {
  const W = chart.width ?? 760;
  const H = chart.height ?? 260;
  const yMax = Math.max(1, ...chart.lines.flatMap((l) => l.points.map(([, v]) => v))) * 1.1;
  const x = (t: number) => LEFT + ((W - LEFT - RIGHT) * t) / chart.xMax;
  const y = (v: number) => H - BOTTOM - ((H - BOTTOM - TOP) * v) / yMax;
  const f = (n: number) => n.toFixed(1);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((share) => Math.round(yMax * share));
  const legend = [
    ...chart.lines.map((l) => ({ label: l.label, color: l.color })),
    ...(chart.bands ? [{ label: chart.bands.label, color: chart.bands.color }] : []),
  ];
  let legendX = W - RIGHT - legend.reduce((sum, e) => sum + e.label.length * CHAR_PX + 16, 0);
  const legendText = legend.map((e) => {
    const text = `<text x="${f(legendX)}" y="${H - 6}" fill="${e.color}">${e.label}</text>`;
    legendX += e.label.length * CHAR_PX + 16;
    return text;
  });
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${LEFT}" y="13">${escapeXml(chart.title)}</text>`,
    ...(chart.bands?.spans ?? []).map(
      (b) =>
        `<rect x="${f(x(b.from))}" y="${TOP}" width="${f(Math.max(0.5, x(b.to) - x(b.from)))}" height="${H - BOTTOM - TOP}" fill="${chart.bands!.color}" fill-opacity="0.15"/>`,
    ),
    ...ticks.map(
      (v) =>
        `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${f(y(v))}" y2="${f(y(v))}" stroke="#eee"/><text x="${LEFT - 4}" y="${f(y(v) + 4)}" text-anchor="end">${v}</text>`,
    ),
    ...chart.xTicks.map((t) => `<text x="${f(x(t.at))}" y="${H - BOTTOM + 14}" text-anchor="middle">${t.label}</text>`),
    ...chart.lines.map(
      (l) => `<polyline fill="none" stroke="${l.color}" stroke-width="1.5" points="${l.points.map(([t, v]) => `${f(x(t))},${f(y(v))}`).join(" ")}"/>`,
    ),
    legendText.join(""),
    "</svg>",
  ];
  return `${parts.join("\n")}\n`;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
