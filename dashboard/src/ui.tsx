import type { ComponentChildren } from "preact";
import { createContext } from "preact";
import { useCallback, useContext, useEffect, useState } from "preact/hooks";
import type { BackPressureLevel } from "@riffle/shared/rest-api/levels";
import { ApiError } from "./api.js";

/** A job's or task's state, coloured by what it means. */
export function StateBadge({ state }: { state: string }) {
  return <span class={`badge state-${state.toLowerCase()}`}>{state}</span>;
}

/** Flink's back-pressure colours: OK green, LOW orange, HIGH red; no level yet: not measured. */
export function LevelBadge({ level }: { level: BackPressureLevel | undefined }) {
  if (level === undefined) return <span class="badge muted">NOT MEASURED YET</span>;
  return <span class={`badge level-${level}`}>{level.toUpperCase()}</span>;
}

export function Card({ title, value, detail, testid }: { title: string; value: ComponentChildren; detail?: ComponentChildren; testid?: string }) {
  return (
    <div class="card" data-testid={testid}>
      <div class="card-title">{title}</div>
      <div class="card-value">{value}</div>
      {detail !== undefined && <div class="card-detail">{detail}</div>}
    </div>
  );
}

export function ErrorText({ error }: { error: ApiError | Error | undefined }) {
  if (!error) return null;
  const text = error instanceof ApiError ? error.toString() : error.message;
  return (
    <div class="error" role="alert" data-testid="error">
      {text}
    </div>
  );
}

export function Loading() {
  return <div class="muted">Loading…</div>;
}

/** A dialog; Escape closes it. */
export function Modal({ title, onClose, children }: { title: string; onClose(): void; children: ComponentChildren }) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [onClose]);
  return (
    <div class="modal-backdrop">
      <div class="modal" role="dialog" aria-label={title}>
        <div class="modal-title">
          {title}
          <button type="button" class="close" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </div>
        {children}
      </div>
    </div>
  );
}

/**
 * Asks before an action, runs it, and closes once it succeeded; a failure stays in the dialog with
 * the API's code and message.
 */
export function Confirm({
  title,
  body,
  confirmLabel,
  danger,
  run,
  onClose,
  children,
}: {
  title: string;
  body: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  run(): Promise<void>;
  onClose(): void;
  children?: ComponentChildren;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | Error>();
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await run();
      onClose();
    } catch (err) {
      setError(err as Error);
      setBusy(false);
    }
  };
  return (
    <Modal title={title} onClose={onClose}>
      <div class="modal-body">{body}</div>
      {children}
      <ErrorText error={error} />
      <div class="modal-actions">
        <button type="button" onClick={onClose} disabled={busy}>
          Back
        </button>
        <button type="button" class={danger ? "danger" : "primary"} onClick={confirm} disabled={busy}>
          {busy ? "Working…" : confirmLabel}
        </button>
      </div>
    </Modal>
  );
}

export interface Notice {
  id: number;
  kind: "ok" | "error" | "info";
  text: string;
}

interface Notices {
  notices: Notice[];
  push(kind: Notice["kind"], text: string): void;
  dismiss(id: number): void;
}

export const NoticesContext = createContext<Notices>({ notices: [], push: () => {}, dismiss: () => {} });

export function useNotices(): Notices {
  return useContext(NoticesContext);
}

let nextNotice = 1;

/** The results of actions (savepoint done, job cancelled, errors), until dismissed. */
export function useNoticeState(): Notices {
  const [notices, setNotices] = useState<Notice[]>([]);
  const push = useCallback((kind: Notice["kind"], text: string) => {
    const id = nextNotice++;
    setNotices((n) => [...n.slice(-4), { id, kind, text }]);
  }, []);
  const dismiss = useCallback((id: number) => setNotices((n) => n.filter((x) => x.id !== id)), []);
  return { notices, push, dismiss };
}

export function NoticeList() {
  const { notices, dismiss } = useNotices();
  return (
    <div class="notices" aria-live="polite">
      {notices.map((n) => (
        <div key={n.id} class={`notice notice-${n.kind}`} data-testid={`notice-${n.kind}`}>
          <span>{n.text}</span>
          <button type="button" class="close" aria-label="Dismiss" onClick={() => dismiss(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

/** Tabs of a page, as links (the route holds the tab). */
export function Tabs({ tabs, current }: { tabs: Array<{ id: string; label: string; href: string }>; current: string }) {
  return (
    <nav class="tabs">
      {tabs.map((t) => (
        <a key={t.id} href={t.href} class={t.id === current ? "tab active" : "tab"}>
          {t.label}
        </a>
      ))}
    </nav>
  );
}
