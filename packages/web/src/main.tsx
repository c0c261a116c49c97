import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { get, type Config } from "./api.js";
import { ErrorBox } from "./ui.js";
import { WalletMenu, WalletProvider } from "./wallet.js";
import { CreatePage } from "./pages/Create.js";
import { JobsPage } from "./pages/Jobs.js";
import { ProvidePage } from "./pages/Provide.js";
import { GovernPage } from "./pages/Govern.js";
import "./styles.css";

const PAGES = [
  { id: "create", title: "Create", Page: CreatePage },
  { id: "jobs", title: "My jobs", Page: JobsPage },
  { id: "provide", title: "Provide", Page: ProvidePage },
  { id: "govern", title: "Govern", Page: GovernPage },
] as const;

function usePageId(): string {
  const read = () => location.hash.replace(/^#\/?/, "") || "create";
  const [id, setId] = useState(read);
  useEffect(() => {
    const on = () => setId(read());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return id;
}

function App() {
  const [config, setConfig] = useState<Config>();
  const [error, setError] = useState<unknown>();
  const pageId = usePageId();
  useEffect(() => {
    get<Config>("api/config").then(setConfig, setError);
  }, []);
  if (error)
    return (
      <main>
        <ErrorBox error={error} />
      </main>
    );
  if (!config)
    return (
      <main>
        <p className="muted">Connecting to the local Rendermesh node…</p>
      </main>
    );
  const page = PAGES.find((p) => p.id === pageId) ?? PAGES[0];
  return (
    <WalletProvider config={config}>
      <header>
        <a className="brand" href="#/create">
          Rendermesh
        </a>
        <nav>
          {PAGES.map((p) => (
            <a key={p.id} href={`#/${p.id}`} className={p.id === page.id ? "active" : ""}>
              {p.title}
            </a>
          ))}
        </nav>
        <WalletMenu config={config} />
      </header>
      <main data-page={page.id}>
        <page.Page config={config} />
      </main>
      <footer className="muted">
        Chain {config.chainId}
        {config.dev ? " (local dev network)" : ""} · escrow {config.deployment.escrow.slice(0, 10)}…
      </footer>
    </WalletProvider>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
