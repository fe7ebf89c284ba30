// The Ithaca operator page: polls the gateway's admin JSON and shows it.
// Every value from the server goes into the DOM as text (textContent or a
// text node), never as markup; links are set only to http(s) URLs or paths.
"use strict";

(function () {
  const POLL_MS = 1500;
  const TOKEN_KEY = "ithaca-admin-token";

  // The admin token: from the URL fragment (never sent to the server),
  // else from this tab's session storage.
  let token = null;
  const fromFragment = /(?:^#|&)token=([^&]*)/.exec(window.location.hash);
  if (fromFragment) {
    token = decodeURIComponent(fromFragment[1]);
    window.sessionStorage.setItem(TOKEN_KEY, token);
    window.history.replaceState(null, "", window.location.pathname);
  } else {
    token = window.sessionStorage.getItem(TOKEN_KEY);
  }

  const $ = (id) => document.getElementById(id);

  // A node: `el("td", {className: "x"}, "text", otherNode)`.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "href") {
        if (safeHref(value)) node.setAttribute("href", value);
      } else if (key === "title") {
        node.setAttribute("title", String(value));
      } else if (key === "className") {
        node.className = value;
      } else if (key === "colSpan") {
        node.colSpan = Number(value);
      } else if (key === "dataset") {
        Object.assign(node.dataset, value);
      }
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function safeHref(value) {
    return typeof value === "string" && /^(\/(?!\/)|https?:\/\/)/.test(value);
  }

  function text(id, value) {
    $(id).textContent = value === null || value === undefined ? "—" : String(value);
  }

  function rows(tbody, list) {
    tbody.replaceChildren(...list);
  }

  // GET a JSON endpoint: {state: "ok", data, raw} | {state: "disabled"} |
  // {state: "unauthorized"} | {state: "error", message}.
  async function getJson(path) {
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    let response;
    try {
      response = await fetch(path, { headers, cache: "no-store" });
    } catch (error) {
      return { state: "error", message: "gateway unreachable" };
    }
    if (response.status === 404) return { state: "disabled" };
    if (response.status === 401) return { state: "unauthorized" };
    if (!response.ok) {
      return { state: "error", message: "HTTP " + response.status };
    }
    try {
      const raw = await response.text();
      return { state: "ok", raw, data: JSON.parse(raw) };
    } catch (error) {
      return { state: "error", message: "not JSON" };
    }
  }

  // Shows a part's state line; returns whether its content is to be shown.
  function showState(section, stateId, result, what) {
    const line = $(stateId);
    const content = $(section).querySelector(".content");
    line.className = "state " + result.state;
    let shown = false;
    switch (result.state) {
      case "ok":
        line.textContent = "";
        shown = true;
        break;
      case "disabled":
        line.textContent = what + ": disabled";
        break;
      case "unauthorized":
        line.textContent = "admin token required";
        $("token-form").hidden = false;
        break;
      default:
        line.textContent = what + ": " + result.message;
    }
    if (content) content.hidden = !shown;
    return shown;
  }

  // Re-renders a part only when its JSON changed, so a link is not replaced
  // under the pointer.
  const seen = {};
  function changed(key, ...results) {
    const digest = results.map((r) => r.state + ":" + (r.raw || "")).join("\u0000");
    if (seen[key] === digest) return false;
    seen[key] = digest;
    return true;
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return "—";
    return ms >= 10000 ? (ms / 1000).toFixed(0) + " s" : ms + " ms";
  }

  // The lease as the oracle leader sees it: a member's lease runs
  // L·(1−ρ) from the heartbeat the leader last answered; past the
  // suspicion timeout S the member is removed.
  function leaseState(member, timing) {
    if (member.silent_for_ms === undefined || !timing) {
      return { label: "unknown (not the oracle leader)", cls: "muted" };
    }
    const valid = timing.lease_ms * (1 - timing.clock_drift_ppm / 1e6);
    const silent = member.silent_for_ms;
    if (silent < valid) {
      return { label: "valid (" + Math.round(valid - silent) + " ms left)", cls: "good" };
    }
    if (silent < timing.suspicion_timeout_ms) {
      return { label: "lapsed, suspected", cls: "warn" };
    }
    return { label: "lapsed, removal pending", cls: "bad" };
  }

  function renderMembership(settings, members, oracle) {
    const result = members.state !== "ok" ? members : oracle;
    if (!changed("membership", settings, members, oracle)) return;
    if (!showState("membership", "membership-state", result, "membership")) return;
    const timing = settings.state === "ok" ? settings.data.membership : null;
    const report = members.data;
    const status = oracle.data.oracle;
    text("view-id", report.view_id);
    text("oracle-node", status.node.id + " at " + status.node.address);
    text("oracle-role", status.role);
    text("oracle-term", status.term);
    text("oracle-leader", status.leader ? status.leader.id + " at " + status.leader.address : "none known");
    text("oracle-voters", status.voters.map((v) => v.id + "@" + v.address).join(", "));
    text("oracle-members-at", oracle.data.member_listen + " (UDP heartbeats, TCP joins)");
    text(
      "lease-timing",
      timing
        ? "L = " + timing.lease_ms + " ms, heartbeats every " + timing.heartbeat_interval_ms +
            " ms, removal after " + timing.suspicion_timeout_ms + " ms of silence" +
            (report.removals_held ? " (removals held)" : "")
        : "—",
    );
    const list = report.members.map((member) => {
      const lease = leaseState(member, timing);
      return el(
        "tr",
        { dataset: { member: member.member } },
        el("td", { className: "member" }, member.member),
        el("td", {}, member.incarnation),
        el("td", {}, member.address),
        el("td", {}, member.primary_for.join(", ")),
        el("td", {}, member.backup_for.join(", ")),
        el("td", { className: "lease " + lease.cls }, lease.label),
        el("td", {}, duration(member.silent_for_ms)),
        el("td", {}, member.phi === undefined ? "—" : member.phi.toFixed(2)),
      );
    });
    if (list.length === 0) {
      list.push(el("tr", {}, el("td", { className: "muted", colSpan: 8 }, "no members")));
    }
    rows($("members").tBodies[0], list);
  }

  function renderTransactions(txn) {
    if (!changed("transactions", txn)) return;
    if (!showState("transactions", "transactions-state", txn, "WS-AT coordinator")) return;
    const snapshot = txn.data;
    text(
      "txn-instance",
      snapshot.instance + (snapshot.recovered ? "" : " (recovering its log)") +
        (snapshot.fenced ? " (fenced off by another instance)" : ""),
    );
    text("txn-total", snapshot.total);
    text("txn-in-doubt", snapshot.in_doubt);
    const list = snapshot.transactions.map((tx) =>
      el(
        "tr",
        { className: tx.in_doubt ? "in-doubt" : "", dataset: { tx: tx.id } },
        el("td", { className: "txid" }, tx.id),
        el("td", {}, tx.phase),
        el("td", { className: tx.in_doubt ? "bad" : "" }, tx.in_doubt ? "in doubt" : "no"),
        el("td", {}, tx.logged ? "yes" : "no"),
        el("td", {}, duration(tx.expires_in_ms)),
        el(
          "td",
          {},
          el(
            "ul",
            { className: "plain" },
            ...tx.participants.map((p) =>
              el("li", {}, p.protocol + " " + p.state + " ", el("span", { className: "muted" }, p.address)),
            ),
          ),
        ),
      ),
    );
    if (list.length === 0) {
      list.push(el("tr", {}, el("td", { className: "muted", colSpan: 6 }, "no transactions")));
    }
    rows($("txns").tBodies[0], list);
    const heuristics = snapshot.heuristics || [];
    $("heuristics").replaceChildren(
      ...heuristics.map((h) =>
        el("li", { className: "bad" }, "heuristic " + h.kind + ": " + h.tx + " participant " + h.participant + " (" + h.address + ")"),
      ),
    );
  }

  function renderServices(services) {
    if (!changed("services", services)) return;
    if (!showState("services", "services-state", services, "services")) return;
    const list = [];
    for (const service of services.data.services) {
      service.ports.forEach((port, index) => {
        list.push(
          el(
            "tr",
            { dataset: { service: service.name } },
            el(
              "td",
              { className: "service" },
              index === 0 ? service.name : "",
              index === 0 ? el("div", { className: "muted" }, service.path) : null,
            ),
            el("td", {}, port.port),
            el("td", {}, el("code", {}, port.url)),
            el("td", {}, el("a", { href: port.wsdl, className: "wsdl" }, "WSDL")),
          ),
        );
      });
    }
    if (list.length === 0) {
      list.push(el("tr", {}, el("td", { className: "muted", colSpan: 4 }, "no SOAP services")));
    }
    rows($("service-ports").tBodies[0], list);
  }

  function renderBridge(objects, settings) {
    if (changed("bridge", objects)) {
      if (objects.state === "disabled") {
        showState("bridge", "bridge-state", objects, "IIOP listener");
      } else if (showState("bridge", "bridge-state", objects, "IIOP listener")) {
        const list = objects.data.map((object) =>
          el(
            "tr",
            { dataset: { object: object.name } },
            el("td", { className: "object" }, object.name),
            el("td", {}, object.interface),
            el("td", {}, el("code", { className: "corbaloc" }, object.corbaloc)),
            el("td", {}, el("code", { className: "ior", title: object.ior }, object.ior)),
            el("td", {}, object.backend),
          ),
        );
        if (list.length === 0) {
          list.push(el("tr", {}, el("td", { className: "muted", colSpan: 5 }, "no objects published")));
        }
        rows($("objects").tBodies[0], list);
      }
    }
    if (settings.state !== "ok" || !changed("corba", settings)) return;
    const corba = settings.data.corba_objects;
    $("corba-content").hidden = corba.length === 0;
    $("corba-state").textContent = corba.length === 0 ? "CORBA objects hosted as SOAP services: none configured" : "";
    rows(
      $("corba-objects").tBodies[0],
      corba.map((object) =>
        el(
          "tr",
          {},
          el("td", {}, object.name),
          el("td", {}, object.interface || "—"),
          el("td", {}, el("code", { className: "ior" }, object.target)),
          el("td", {}, el("a", { href: object.path + "?wsdl", className: "wsdl" }, object.path)),
        ),
      ),
    );
  }

  async function refresh() {
    const [settings, members, oracle, txn, services, objects] = await Promise.all([
      getJson("/ui/settings.json"),
      getJson("/membership/members"),
      getJson("/membership/oracle-status"),
      getJson("/admin/txn"),
      getJson("/admin/services"),
      getJson("/bridge/objects"),
    ]);
    try {
      if (settings.state === "ok") text("version", "version " + settings.data.version);
      renderMembership(settings, members, oracle);
      renderTransactions(txn);
      renderServices(services);
      renderBridge(objects, settings);
      const now = new Date();
      $("updated").textContent = "updated " + now.toLocaleTimeString();
      $("updated").dataset.polls = String(Number($("updated").dataset.polls || "0") + 1);
    } catch (error) {
      $("updated").textContent = "cannot show the answer: " + error;
    }
    window.setTimeout(refresh, POLL_MS);
  }

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $("token-input").value.trim() || null;
    if (token) window.sessionStorage.setItem(TOKEN_KEY, token);
    $("token-form").hidden = true;
    for (const key of Object.keys(seen)) delete seen[key];
  });

  refresh();
})();
