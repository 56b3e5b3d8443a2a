import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartSeries {
  label: string;
  color: string;
  /** Which y axis: 0 (left) or 1 (right). */
  axis?: 0 | 1;
  /** Draw points only (a checkpoint is an event, not a continuous value). */
  points?: boolean;
  format?: (v: number) => string;
}

/**
 * A time chart (uPlot): `x` in seconds since the epoch, one array of values per series. The plot is
 * built once per set of series and then only given new data, so live updates stay cheap.
 */
export function TimeChart({
  title,
  x,
  ys,
  series,
  height = 170,
  testid,
}: {
  title: string;
  x: number[];
  ys: Array<Array<number | null>>;
  series: ChartSeries[];
  height?: number;
  testid?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const key = series.map((s) => `${s.label}/${s.axis ?? 0}/${s.points ? 1 : 0}`).join(",");

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const axisFormat = (i: 0 | 1) => series.find((s) => (s.axis ?? 0) === i)?.format ?? ((v: number) => String(v));
    const hasRight = series.some((s) => s.axis === 1);
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
        y2: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        { stroke: "#64748b", grid: { stroke: "#e2e8f0" } },
        { stroke: "#64748b", grid: { stroke: "#e2e8f0" }, size: 64, values: (_u, vals) => vals.map((v) => axisFormat(0)(v)) },
        ...(hasRight
          ? [
              {
                side: 1 as const,
                scale: "y2",
                stroke: "#64748b",
                grid: { show: false },
                size: 64,
                values: (_u: uPlot, vals: number[]) => vals.map((v) => axisFormat(1)(v)),
              },
            ]
          : []),
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          scale: s.axis === 1 ? "y2" : "y",
          ...(s.points ? { paths: () => null, points: { show: true, size: 7, fill: s.color } } : { points: { show: false } }),
          value: (_u: uPlot, v: number | null) => (v === null ? "–" : (s.format ?? String)(v)),
        })),
      ],
    };
    plot.current = new uPlot(opts, [x, ...ys] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // The plot is rebuilt only when its series change; data goes in below.
  }, [key, height]);

  useEffect(() => {
    plot.current?.setData([x, ...ys] as uPlot.AlignedData);
  }, [x, ys]);

  return (
    <div class="chart" data-testid={testid}>
      <div class="chart-title">{title}</div>
      <div ref={box} class="chart-box" />
      {x.length === 0 && <div class="muted chart-empty">No data yet</div>}
    </div>
  );
}
