// Live dashboard: subscribe to the tenant's events over /ws/events/ (session auth) and
// prepend each one; reconnect with backoff when the socket drops, resuming after the last event
// shown (`?cursor=<id>`): the server replays what was missed, in order, before live ones.
(function () {
  // The tenant switcher submits on change (no inline handler: the Content-Security-Policy).
  const switcher = document.getElementById("tenant-switcher");
  if (switcher) {
    switcher.querySelector("select").addEventListener("change", () => switcher.submit());
  }

  const table = document.getElementById("events");
  const status = document.getElementById("ws-status");
  if (!table) return;
  const tbody = table.querySelector("tbody");
  const tenant = table.dataset.tenant;
  let delay = 1000;
  let lastId = 0;
  tbody.querySelectorAll("tr[data-id]").forEach((tr) => { lastId = Math.max(lastId, Number(tr.dataset.id) || 0); });

  // Times as the server renders them: in its time zone, with the zone's name.
  const zone = table.dataset.tz || "UTC";
  function formatWhen(iso) {
    const at = new Date(iso || "");
    if (Number.isNaN(at.getTime())) return iso || "";
    try {
      const parts = new Intl.DateTimeFormat("sv-SE", {
        timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
      }).format(at);
      return `${parts} ${zone}`;
    } catch (err) {
      return `${at.toISOString().replace("T", " ").slice(0, 19)} UTC`;
    }
  }

  function setStatus(state, text) { status.dataset.state = state; status.textContent = text; }

  function cell(text) { const td = document.createElement("td"); td.textContent = text ?? ""; return td; }

  function addEvent(e) {
    lastId = Math.max(lastId, Number(e.id) || 0);
    if (tbody.querySelector(`tr[data-id="${e.id}"]`)) return;
    const empty = tbody.querySelector("tr.empty");
    if (empty) empty.remove();
    const tr = document.createElement("tr");
    tr.dataset.id = e.id;
    tr.className = `fresh priority-${e.priority}`;
    const when = formatWhen(e.timestamp);
    const code = document.createElement("code");
    code.textContent = e.type;
    const typeCell = document.createElement("td");
    typeCell.appendChild(code);
    [cell(e.id), cell(when), typeCell, cell(e.title), cell(`${e.entity_type} ${e.entity_id}`), cell(e.user_name)]
      .forEach((td) => tr.appendChild(td));
    tbody.prepend(tr);
    while (tbody.children.length > 200) tbody.lastElementChild.remove();
  }

  // Figures refresh (at most every 2 s) when events arrive.
  const summary = document.getElementById("summary");
  let refreshTimer = null;
  function lookup(obj, path) { return path.split(".").reduce((o, k) => (o == null ? o : o[k]), obj); }
  function refreshSummary() {
    refreshTimer = null;
    fetch(summary.dataset.url, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => {
        if (!data) return;
        summary.querySelectorAll("[data-key]").forEach((el) => {
          const value = lookup(data, el.dataset.key);
          if (value !== undefined && String(value) !== el.textContent) { el.textContent = value; el.classList.add("fresh"); }
        });
      })
      .catch(() => {});
  }
  function scheduleSummary() { if (summary && !refreshTimer) refreshTimer = setTimeout(refreshSummary, 2000); }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const resume = lastId > 0 ? `&cursor=${lastId}` : "";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/events/?tenant=${encodeURIComponent(tenant)}${resume}`);
    ws.onopen = () => { delay = 1000; setStatus("open", "live"); };
    ws.onmessage = (msg) => {
      const data = JSON.parse(msg.data);
      if (data.type === "event") { addEvent(data.event); scheduleSummary(); }
    };
    ws.onclose = () => {
      setStatus("closed", "reconnecting…");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
