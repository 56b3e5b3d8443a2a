import { useEffect, useState } from "preact/hooks";
import type { DashboardConfiguration } from "@riffle/shared/rest-api";
import { ApiError, hasCredentials, loadConfig, onUnauthorized, roleOf, setCredentials } from "./api.js";
import { ConfigContext } from "./hooks.js";
import { JobPage } from "./job.js";
import { JobsPage } from "./jobs.js";
import { OverviewPage } from "./overview.js";
import { href, useRoute } from "./router.js";
import { TaskManagerPage, TaskManagersPage } from "./taskmanagers.js";
import { ErrorText, Modal, NoticeList, NoticesContext, useNoticeState } from "./ui.js";

/** The dashboard: loads /config, then shows the screen the route names; asks for credentials when the API does. */
export function App() {
  const [config, setConfig] = useState<DashboardConfiguration>();
  const [error, setError] = useState<ApiError>();
  const [login, setLogin] = useState<ApiError | null>(null);
  const notices = useNoticeState();
  const route = useRoute();

  const reloadConfig = () =>
    loadConfig().then(
      (c) => {
        setConfig(c);
        setError(undefined);
        // Auth on, and nothing may be read without credentials: ask for them straight away.
        if (c.auth.enabled && c.auth.role === null && c.auth.anonymous === null)
          setLogin(new ApiError(401, "UNAUTHORIZED", "this JobManager needs credentials"));
      },
      (e: ApiError) => setError(e),
    );
  useEffect(() => {
    void reloadConfig();
    return onUnauthorized((err) => setLogin(err));
  }, []);

  if (!config) {
    return <div class="boot">{error ? <ErrorText error={error} /> : "Connecting to the JobManager…"}</div>;
  }
  const [section, id, sub, subId] = route;
  return (
    <ConfigContext.Provider value={config}>
      <NoticesContext.Provider value={notices}>
        <header class="top">
          <a class="brand" href={href()}>
            Riffle
          </a>
          <nav>
            <a href={href()} class={section === undefined ? "active" : ""}>
              Overview
            </a>
            <a href={href("jobs")} class={section === "jobs" ? "active" : ""}>
              Jobs
            </a>
            <a href={href("taskmanagers")} class={section === "taskmanagers" ? "active" : ""}>
              TaskManagers
            </a>
            <a href="/openapi.json" target="_blank" rel="noreferrer">
              REST API
            </a>
          </nav>
          <div class="who" data-testid="role">
            {config.auth.enabled ? (
              <>
                {config.auth.role ? `signed in: ${config.auth.role}` : config.auth.anonymous ? "anonymous: read-only" : "not signed in"}
                {hasCredentials() ? (
                  <button
                    type="button"
                    onClick={() => {
                      setCredentials(null);
                      void reloadConfig();
                    }}
                  >
                    Sign out
                  </button>
                ) : (
                  <button type="button" data-testid="sign-in" onClick={() => setLogin(new ApiError(401, "UNAUTHORIZED", "sign in for more"))}>
                    Sign in
                  </button>
                )}
              </>
            ) : (
              "no authentication"
            )}
          </div>
        </header>
        <main>
          {section === undefined && <OverviewPage />}
          {section === "jobs" && id === undefined && <JobsPage />}
          {section === "jobs" && id !== undefined && (
            <JobPage jobId={id} tab={sub === "vertices" ? "graph" : (sub ?? "graph")} vertexId={sub === "vertices" ? subId : undefined} />
          )}
          {section === "taskmanagers" && id === undefined && <TaskManagersPage />}
          {section === "taskmanagers" && id !== undefined && <TaskManagerPage id={id} />}
        </main>
        <NoticeList />
        {login && (
          <Login
            reason={login}
            onDone={() => {
              setLogin(null);
              void reloadConfig();
            }}
          />
        )}
      </NoticesContext.Provider>
    </ConfigContext.Provider>
  );
}

/** Credentials for rest.auth.*: a bearer token, or a user and password (HTTP basic). */
function Login({ reason, onDone }: { reason: ApiError; onDone(): void }) {
  const [mode, setMode] = useState<"token" | "basic">("token");
  const [token, setToken] = useState("");
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<ApiError>();
  const submit = async (e: Event) => {
    e.preventDefault();
    const credentials = mode === "token" ? { token } : { user, password };
    // Checked first: views keep polling with the credentials they have until these are known good.
    if ((await roleOf(credentials)) === null) {
      setError(new ApiError(401, "UNAUTHORIZED", "these credentials are not valid for this JobManager"));
      return;
    }
    setCredentials(credentials);
    onDone();
  };
  return (
    <Modal title="Sign in" onClose={onDone}>
      <div class="modal-body muted">{reason.message}</div>
      <form class="form" onSubmit={submit} data-testid="login">
        <div class="filters">
          <button type="button" class={mode === "token" ? "chip active" : "chip"} onClick={() => setMode("token")}>
            Token
          </button>
          <button type="button" class={mode === "basic" ? "chip active" : "chip"} onClick={() => setMode("basic")}>
            User and password
          </button>
        </div>
        {mode === "token" ? (
          <label>
            Token
            <input type="password" value={token} data-testid="login-token" onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
          </label>
        ) : (
          <>
            <label>
              User
              <input type="text" value={user} onInput={(e) => setUser((e.target as HTMLInputElement).value)} />
            </label>
            <label>
              Password
              <input type="password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
            </label>
          </>
        )}
        <ErrorText error={error} />
        <div class="modal-actions">
          <button type="submit" class="primary" data-testid="login-submit">
            Sign in
          </button>
        </div>
      </form>
    </Modal>
  );
}
