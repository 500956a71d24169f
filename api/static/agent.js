/*
 * Agent console: the handoff queue with the assistant's summary (DESIGN §6), the transcript,
 * claim, reply, resolve; and the cases. The agent key is typed in and kept in sessionStorage;
 * every call sends it as X-API-Key. The queue refreshes every few seconds, the open
 * conversation's transcript every two.
 */
(function () {
  "use strict";

  var QUEUE_MS = 4000;
  var TRANSCRIPT_MS = 2000;
  var VIEW_TITLES = { waiting: "Waiting", claimed: "Claimed", resolved: "Resolved", cases: "Cases" };

  var view = "waiting";
  var current = null; // the open handoff
  var queueTimer = null;
  var detailTimer = null;

  var shared = window.BudbringerKeyed;
  var $ = shared.$;
  var el = shared.el;
  var status = shared.status;
  var api = shared.client("agent");
  var call = api.call;
  var setKey = api.setKey;

  function listOf(data, names) {
    if (Array.isArray(data)) return data;
    for (var i = 0; i < names.length; i++) if (data && Array.isArray(data[names[i]])) return data[names[i]];
    return [];
  }

  function when(iso) {
    if (!iso) return "";
    var date = new Date(iso);
    return isNaN(date) ? String(iso) : date.toLocaleString();
  }

  function compact(value) {
    if (value === null || value === undefined) return "";
    if (typeof value !== "object") return String(value);
    if (Array.isArray(value)) return value.map(compact).join(", ");
    return Object.keys(value)
      .filter(function (k) {
        return value[k] !== null && value[k] !== undefined && value[k] !== "";
      })
      .map(function (k) {
        return k.replace(/_/g, " ") + ": " + compact(value[k]);
      })
      .join("; ");
  }

  /* ---------- list: queue or cases ---------- */

  function showView(name) {
    view = name;
    document.querySelectorAll(".bb-tabs button").forEach(function (button) {
      button.setAttribute("aria-pressed", button.getAttribute("data-view") === name ? "true" : "false");
    });
    $("list-heading").textContent = VIEW_TITLES[name];
    $("queue").textContent = "";
    refreshList();
  }

  async function refreshList() {
    clearTimeout(queueTimer);
    if (!api.key()) {
      status("list-status", "Type the agent key first.", "error");
      return;
    }
    try {
      if (view === "cases") {
        renderCases(listOf(await call("GET", "/v1/cases"), ["cases", "items"]));
      } else {
        var data = await call("GET", "/v1/handoffs?status=" + encodeURIComponent(view));
        renderQueue(listOf(data, ["handoffs", "items"]));
      }
    } catch (e) {
      status("list-status", e.message, "error");
      return;
    }
    queueTimer = setTimeout(refreshList, QUEUE_MS);
  }

  function renderQueue(handoffs) {
    var list = $("queue");
    list.textContent = "";
    status("list-status", handoffs.length ? handoffs.length + " conversation(s)." : "Nothing here right now.");
    handoffs.forEach(function (h) {
      var summary = h.summary || {};
      var button = el("button");
      button.type = "button";
      button.setAttribute("data-handoff-id", h.handoff_id);
      if (current && current.handoff_id === h.handoff_id) button.setAttribute("aria-current", "true");
      var title = el("strong", (h.reason || summary.reason || "").replace(/_/g, " "));
      button.appendChild(title);
      button.appendChild(
        document.createTextNode(
          " · " + (h.language || summary.language || "") + " · priority " + h.priority + " · " + when(h.created_at)
        )
      );
      if (summary.text) {
        button.appendChild(el("br"));
        button.appendChild(el("span", summary.text));
      }
      button.addEventListener("click", function () {
        openHandoff(h);
      });
      var item = el("li");
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  function renderCases(cases) {
    var list = $("queue");
    list.textContent = "";
    status("list-status", cases.length ? cases.length + " case(s)." : "No cases.");
    cases.forEach(function (c) {
      var button = el("button");
      button.type = "button";
      button.setAttribute("data-case-id", c.case_id);
      button.appendChild(el("strong", c.case_id));
      button.appendChild(
        document.createTextNode(
          " · " + (c.category || "") + " · " + (c.status || "") + (c.tracking_id ? " · " + c.tracking_id : "")
        )
      );
      button.addEventListener("click", function () {
        openCase(c.case_id);
      });
      var item = el("li");
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  /* ---------- one handoff ---------- */

  function openHandoff(handoff) {
    current = handoff;
    $("detail-empty").hidden = true;
    $("case-body").hidden = true;
    $("detail-body").hidden = false;
    $("detail-heading").textContent = "Conversation " + handoff.conversation_id;
    document.querySelectorAll("#queue button").forEach(function (b) {
      if (b.getAttribute("data-handoff-id") === handoff.handoff_id) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    });
    $("transcript").textContent = "";
    status("action-status", "");
    renderHandoff(handoff);
    $("detail").focus();
    refreshDetail();
  }

  function renderHandoff(h) {
    var summary = h.summary || {};
    $("detail-meta").textContent =
      "Status: " + h.status + " · priority " + h.priority + " · " + (h.mode || "live") +
      (h.agent ? " · agent " + h.agent : "") + " · since " + when(h.created_at);
    $("summary-text").textContent = summary.text || "";
    var facts = $("summary");
    facts.textContent = "";
    function fact(name, value) {
      if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return;
      facts.appendChild(el("dt", name));
      var dd = el("dd");
      if (Array.isArray(value) && typeof value[0] === "object") {
        var steps = el("ol");
        value.forEach(function (step) {
          var line = step.tool ? step.tool + " – " + (step.ok ? "ok" : "refused/failed") : "";
          if (step.outcome) line += (line ? ": " : "") + step.outcome;
          if (step.tracking_id) line += " (" + step.tracking_id + ")";
          steps.appendChild(el("li", line || compact(step)));
        });
        dd.appendChild(steps);
      } else {
        dd.textContent = compact(value);
      }
      facts.appendChild(dd);
    }
    fact("Reason", (summary.reason || h.reason || "").replace(/_/g, " "));
    fact("Language", summary.language || h.language);
    fact("Intent", summary.intent);
    fact("Tracking ids", summary.tracking_ids);
    fact("Shipment", summary.shipment);
    fact("Steps taken", summary.steps_taken);
    fact("Customer request", summary.customer_request);
    fact("Sentiment", summary.sentiment);
    fact("Suggested next action", summary.suggested_next_action);
    fact("Case", summary.case_id);
    fact("Callback phone", h.callback_phone);
    fact("Resolution note", h.note);

    var open = h.status !== "resolved";
    $("claim-row").hidden = h.status !== "waiting";
    $("reply-form").hidden = h.status !== "claimed";
    $("resolve-form").hidden = !open;
  }

  async function refreshDetail() {
    clearTimeout(detailTimer);
    if (!current) return;
    var id = current.handoff_id;
    try {
      var data = await call("GET", "/v1/handoffs/" + encodeURIComponent(id));
      if (!current || current.handoff_id !== id) return;
      var handoff = data.handoff || data;
      if (handoff.handoff_id) {
        current = handoff;
        renderHandoff(handoff);
      }
      renderTranscript(data.transcript || data.messages || (data.conversation && data.conversation.messages) || []);
    } catch (e) {
      status("action-status", e.message, "error");
    }
    if (current && current.handoff_id === id) detailTimer = setTimeout(refreshDetail, TRANSCRIPT_MS);
  }

  function renderTranscript(messages) {
    var list = $("transcript");
    // Append only what is new, so a screen reader announces new lines and nothing else.
    for (var i = list.children.length; i < messages.length; i++) {
      var m = messages[i];
      var role = m.role || "assistant";
      var item = el("li", null, role);
      item.appendChild(el("strong", role.charAt(0).toUpperCase() + role.slice(1) + ": "));
      item.appendChild(document.createTextNode(m.text || ""));
      list.appendChild(item);
    }
    list.scrollTop = list.scrollHeight;
  }

  async function act(path, body, done) {
    var id = current.handoff_id;
    try {
      var data = await call("POST", "/v1/handoffs/" + encodeURIComponent(id) + path, body);
      // Claim and resolve answer with the handoff: show its new state before moving focus.
      if (data && data.handoff_id === id && current && current.handoff_id === id) {
        current = Object.assign({}, current, data);
        renderHandoff(current);
      }
      if (done) done(data);
    } catch (e) {
      status("action-status", e.message, "error");
      return;
    }
    refreshDetail();
    refreshList();
  }

  /* ---------- one case ---------- */

  async function openCase(caseId) {
    current = null;
    clearTimeout(detailTimer);
    $("detail-empty").hidden = true;
    $("detail-body").hidden = true;
    $("case-body").hidden = false;
    $("detail-heading").textContent = "Case " + caseId;
    var facts = $("case");
    facts.textContent = "";
    try {
      var data = await call("GET", "/v1/cases/" + encodeURIComponent(caseId));
      var record = data.case || data;
      Object.keys(record).forEach(function (key) {
        var value = record[key];
        if (value === null || value === undefined || value === "") return;
        facts.appendChild(el("dt", key.replace(/_/g, " ")));
        facts.appendChild(el("dd", compact(value)));
      });
    } catch (e) {
      facts.appendChild(el("dd", e.message, "error"));
    }
    $("detail").focus();
  }

  /* ---------- start ---------- */

  function start() {
    $("agent-key").value = api.key();
    $("key-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var value = $("agent-key").value.trim();
      if (!value) {
        status("key-status", "Type the agent key.", "error");
        return;
      }
      setKey(value);
      status("key-status", "Key saved for this tab.", "ok");
      refreshList();
    });
    $("forget-key").addEventListener("click", function () {
      setKey("");
      $("agent-key").value = "";
      clearTimeout(queueTimer);
      clearTimeout(detailTimer);
      status("key-status", "Key forgotten.");
    });
    document.querySelectorAll(".bb-tabs button").forEach(function (button) {
      button.addEventListener("click", function () {
        showView(button.getAttribute("data-view"));
      });
    });
    $("claim").addEventListener("click", function () {
      act("/claim", undefined, function () {
        status("action-status", "Claimed. The customer sees your replies in their chat.", "ok");
        $("reply-text").focus();
      });
    });
    $("reply-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var text = $("reply-text").value.trim();
      if (!text) {
        status("action-status", "Write a reply first.", "error");
        $("reply-text").focus();
        return;
      }
      act("/messages", { text: text }, function () {
        $("reply-text").value = "";
        status("action-status", "Reply sent.", "ok");
      });
    });
    $("resolve-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var body = { return_to_bot: $("return-to-bot").checked };
      var note = $("resolve-note").value.trim();
      if (note) body.note = note;
      act("/resolve", body, function () {
        $("resolve-note").value = "";
        $("return-to-bot").checked = false;
        status("action-status", "Resolved.", "ok");
      });
    });
    if (api.key()) {
      status("key-status", "Using the key from this tab's session.");
      refreshList();
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
