import { Graph, layout } from "@dagrejs/dagre";
import { useMemo, useState } from "preact/hooks";
import type { JobPlan, JobVertexSummary } from "@riffle/shared/rest-api";
import { backPressureLevel } from "@riffle/shared/rest-api/levels";
import { rate } from "./format.js";

const NODE_W = 250;
const NODE_H = 112;

interface Laid {
  width: number;
  height: number;
  nodes: Array<{ id: string; x: number; y: number }>;
  edges: Array<{ from: string; to: string; label: string; points: Array<{ x: number; y: number }> }>;
}

/** Lays the plan out left to right (dagre), once per plan: live updates only change the labels. */
function layOut(plan: JobPlan): Laid {
  const g = new Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 28, ranksep: 70, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of plan.nodes) g.setNode(n.id, { width: NODE_W, height: NODE_H });
  plan.nodes.forEach((n) => {
    n.inputs.forEach((input) => {
      g.setEdge(input.id, n.id, { label: input.ship_strategy, width: 80, height: 16, labelpos: "c" }, `${input.id}-${n.id}-${input.num}`);
    });
  });
  layout(g);
  const graph = g.graph();
  return {
    width: (graph.width ?? 0) + 4,
    height: (graph.height ?? 0) + 4,
    nodes: plan.nodes.map((n) => {
      const node = g.node(n.id);
      return { id: n.id, x: node.x - NODE_W / 2, y: node.y - NODE_H / 2 };
    }),
    edges: g.edges().map((e) => {
      const label = g.edge(e) as { label?: string; points?: Array<{ x: number; y: number }> };
      return { from: e.v, to: e.w, label: label.label ?? "", points: label.points ?? [] };
    }),
  };
}

/**
 * The job graph: vertices (operator chains) laid out automatically, each with its parallelism,
 * records in/out per second, busy time and back-pressure level coloured as Flink does (OK, LOW,
 * HIGH); edges labelled with their partitioning. Clicking a vertex selects it.
 */
export function JobGraph({
  plan,
  vertices,
  selected,
  onSelect,
}: {
  plan: JobPlan;
  vertices: JobVertexSummary[];
  selected: string | undefined;
  onSelect(id: string): void;
}) {
  const shape = JSON.stringify(plan.nodes.map((n) => [n.id, n.inputs.map((i) => i.id)]));
  const laid = useMemo(() => layOut(plan), [shape]);
  const byId = new Map(vertices.map((v) => [v.id, v]));
  const nodeOf = new Map(plan.nodes.map((n) => [n.id, n]));
  // A graph wider than the page scrolls at full size, or is shrunk to fit when the user asks.
  const [fit, setFit] = useState(false);
  return (
    <div class="graph-scroll">
      <button type="button" class="chip graph-fit" data-testid="graph-fit" onClick={() => setFit(!fit)}>
        {fit ? "Full size" : "Fit to width"}
      </button>
      <svg
        class="graph"
        width={fit ? "100%" : laid.width}
        height={fit ? undefined : laid.height}
        viewBox={`0 0 ${laid.width} ${laid.height}`}
        data-testid="job-graph"
      >
        <title>Job graph</title>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" fill="#94a3b8" />
          </marker>
        </defs>
        {laid.edges.map((e) => {
          const d = e.points.map((p, i) => `${i === 0 ? "M" : "L"} ${p.x} ${p.y}`).join(" ");
          const mid = e.points[Math.floor(e.points.length / 2)];
          return (
            <g key={`${e.from}-${e.to}-${e.label}`} class="edge" data-testid={`edge-${e.from}-${e.to}`}>
              <path d={d} fill="none" stroke="#94a3b8" stroke-width="1.5" marker-end="url(#arrow)" />
              {mid && (
                <text x={mid.x} y={mid.y - 5} text-anchor="middle" class="edge-label">
                  {e.label}
                </text>
              )}
            </g>
          );
        })}
        {laid.nodes.map((n) => {
          const v = byId.get(n.id);
          const node = nodeOf.get(n.id)!;
          const ratio = (v?.metrics.backPressuredTimeMsPerSecond ?? 0) / 1000;
          const level = backPressureLevel(ratio);
          const busy = (v?.metrics.busyTimeMsPerSecond ?? 0) / 10;
          const chain = node.operators.map((o) => o.name);
          return (
            // biome-ignore lint/a11y/useSemanticElements: an SVG group cannot be a <button>; it takes the role and keyboard activation instead
            <g
              key={n.id}
              transform={`translate(${n.x},${n.y})`}
              class={`vertex level-${level}${selected === n.id ? " selected" : ""}`}
              data-testid={`vertex-${n.id}`}
              data-level={level}
              data-parallelism={node.parallelism}
              role="button"
              tabIndex={0}
              onClick={() => onSelect(n.id)}
              onKeyDown={(e) => {
                if (e.key === "Enter" || e.key === " ") onSelect(n.id);
              }}
            >
              <title>{chain.join(" → ")}</title>
              <rect width={NODE_W} height={NODE_H} rx="6" />
              <text x="10" y="20" class="vertex-name">
                {truncate(node.description, 30)}
              </text>
              <text x={NODE_W - 10} y="20" text-anchor="end" class="vertex-parallelism">
                {`p=${node.parallelism}`}
              </text>
              <text x="10" y="38" class="vertex-chain">
                {truncate(chain.length > 1 ? `${chain.length} chained: ${chain.join(" → ")}` : (chain[0] ?? ""), 40)}
              </text>
              <text x="10" y="60" class="vertex-metric" data-testid={`vertex-${n.id}-rates`}>
                {`in ${rate(v?.metrics.numRecordsInPerSecond)}  ·  out ${rate(v?.metrics.numRecordsOutPerSecond)}`}
              </text>
              <text x="10" y="80" class="vertex-metric">
                {`busy ${Math.round(busy)}%  ·  ${v?.status ?? "CREATED"}`}
              </text>
              <rect x="10" y="88" width={NODE_W - 20} height="14" rx="3" class="bp-track" />
              <rect x="10" y="88" width={Math.max(2, (NODE_W - 20) * Math.min(1, ratio))} height="14" rx="3" class="bp-bar" />
              <text x={NODE_W / 2} y="99" text-anchor="middle" class="bp-label" data-testid={`vertex-${n.id}-level`}>
                {`back-pressure ${level.toUpperCase()} (${Math.round(ratio * 100)}%)`}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
