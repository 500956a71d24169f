/*
 * Content owners' page: the articles per topic and language, reindex with live progress, rollback.
 * The admin key is typed in and kept in sessionStorage (gone when the tab closes); every call
 * sends it as X-API-Key.
 */
(function () {
  "use strict";

  var LANGUAGES = ["da", "sv", "nb", "fi", "en"];
  var POLL_MS = 300;

  var shared = window.BudbringerKeyed;
  var $ = shared.$;
  var el = shared.el;
  var status = shared.status;
  var api = shared.client("admin");
  var call = api.call;
  var setKey = api.setKey;

  function needKey(statusId) {
    if (api.key()) return false;
    status(statusId, "Type the admin key first.", "error");
    $("admin-key").focus();
    return true;
  }

  /* ---------- articles ---------- */

  async function loadArticles() {
    if (needKey("articles-status")) return;
    status("articles-status", "Loading articles…");
    var data;
    try {
      data = await call("GET", "/v1/knowledge/articles");
    } catch (e) {
      status("articles-status", e.message, "error");
      return;
    }
    renderArticles(data);
  }

  function renderArticles(data) {
    var byTopic = {};
    (data.articles || []).forEach(function (a) {
      (byTopic[a.article_id] = byTopic[a.article_id] || {})[a.language] = a;
    });
    var topics = data.topics || [];
    var body = $("articles-table").querySelector("tbody");
    body.textContent = "";
    topics.forEach(function (topic) {
      var row = document.createElement("tr");
      var head = el("th", topic.article_id);
      head.scope = "row";
      row.appendChild(head);
      LANGUAGES.forEach(function (lang) {
        var article = (byTopic[topic.article_id] || {})[lang];
        var cell;
        if (article) {
          cell = el("td");
          var link = el("a", String(article.updated).slice(0, 10));
          link.href = "/help/" + lang + "/" + encodeURIComponent(article.article_id);
          link.title = article.title;
          link.setAttribute("aria-label", lang + ": " + article.title + ", updated " + article.updated);
          cell.appendChild(link);
        } else {
          cell = el("td", "missing", "missing");
          cell.setAttribute("aria-label", lang + ": missing");
        }
        row.appendChild(cell);
      });
      body.appendChild(row);
    });
    $("articles-table").hidden = topics.length === 0;

    var lacking = topics.filter(function (t) {
      return t.missing && t.missing.length;
    });
    var missing = $("missing");
    missing.textContent = "";
    if (lacking.length) {
      missing.appendChild(el("h3", "Topics lacking a language (" + lacking.length + ")"));
      var list = el("ul");
      list.id = "missing-list";
      lacking.forEach(function (t) {
        list.appendChild(el("li", t.article_id + ": " + t.missing.join(", ")));
      });
      missing.appendChild(list);
    } else if (topics.length) {
      missing.appendChild(el("p", "Every topic exists in all five languages.", "bb-status ok"));
    }

    var skipped = $("skipped");
    skipped.textContent = "";
    if (data.skipped && data.skipped.length) {
      skipped.appendChild(el("h3", "Files that cannot be indexed (" + data.skipped.length + ")"));
      var files = el("ul");
      data.skipped.forEach(function (s) {
        files.appendChild(el("li", s.path + ": " + s.reason, "error"));
      });
      skipped.appendChild(files);
    }
    status(
      "articles-status",
      (data.articles || []).length + " articles in " + topics.length + " topics."
    );
  }

  /* ---------- reindex ---------- */

  var polling = null;

  async function startReindex(event) {
    event.preventDefault();
    if (needKey("job-status")) return;
    var button = $("reindex-button");
    button.disabled = true;
    $("job-report").textContent = "";
    var options = { full: $("reindex-full").checked, check_only: $("reindex-check").checked };
    var accepted;
    try {
      accepted = await call("POST", "/v1/knowledge/reindex", options);
    } catch (e) {
      status("job-status", e.message, "error");
      button.disabled = false;
      return;
    }
    $("job").hidden = false;
    $("job-progress").removeAttribute("value"); // indeterminate until the first report
    status("job-status", "Reindex started (job " + accepted.job_id + ")…");
    pollJob(accepted.job_id);
  }

  function pollJob(jobId) {
    clearTimeout(polling);
    polling = setTimeout(async function () {
      var job;
      try {
        job = await call("GET", "/v1/knowledge/jobs/" + encodeURIComponent(jobId));
      } catch (e) {
        status("job-status", e.message, "error");
        $("reindex-button").disabled = false;
        return;
      }
      showJob(job);
      if (job.status === "queued" || job.status === "running") pollJob(jobId);
      else $("reindex-button").disabled = false;
    }, POLL_MS);
  }

  function showJob(job) {
    var bar = $("job-progress");
    var progress = job.progress || {};
    $("job").setAttribute("data-status", job.status);
    if (job.status === "queued" || job.status === "running") {
      if (progress.total > 0) {
        bar.max = progress.total;
        bar.value = Math.min(progress.done, progress.total);
      }
      var counts = progress.total > 0 ? " " + progress.done + " of " + progress.total : "";
      status("job-status", "Reindexing: " + (progress.stage || job.status) + counts + "…");
      return;
    }
    bar.max = 1;
    bar.value = 1;
    var report = job.report || {};
    if (job.status === "succeeded") {
      status("job-status", "Reindex succeeded. " + (report.message || ""), "ok");
    } else {
      status("job-status", "Reindex failed: " + (job.error || report.message || "see the log"), "error");
    }
    renderReport(report);
    loadArticles();
  }

  function renderReport(report) {
    var box = $("job-report");
    box.textContent = "";
    if (!report || !Object.keys(report).length) return;
    var facts = el("dl", null, "bb-facts");
    function fact(name, value) {
      if (value === undefined || value === null || value === "") return;
      facts.appendChild(el("dt", name));
      facts.appendChild(el("dd", String(value)));
    }
    fact("Version", report.version);
    fact("Previous version", report.previous_version);
    fact("Mode", report.mode);
    fact("Switched", report.switched ? "yes" : "no");
    fact("Articles", report.articles);
    fact("Added", (report.added || []).join(", "));
    fact("Changed", (report.changed || []).join(", "));
    fact("Deleted", (report.deleted || []).join(", "));
    fact("Chunks embedded / reused", (report.embedded_chunks || 0) + " / " + (report.reused_chunks || 0));
    fact("Checks", report.checks_passed ? "passed" : (report.check_failures || []).join("; ") || "not passed");
    fact("Skipped files", (report.skipped || []).map(function (s) { return s.path + ": " + s.reason; }).join("; "));
    if (typeof report.duration_s === "number") fact("Duration", report.duration_s.toFixed(1) + " s");
    box.appendChild(facts);
  }

  /* ---------- rollback (two steps, so a stray click changes nothing) ---------- */

  function askRollback() {
    if (needKey("rollback-status")) return;
    var area = $("rollback-confirm");
    if (area) {
      area.querySelector("button").focus();
      return;
    }
    area = el("div", null, "bb-row");
    area.id = "rollback-confirm";
    area.appendChild(el("p", "Make the previous version live again?"));
    var yes = el("button", "Yes, roll back", "danger");
    yes.type = "button";
    yes.id = "rollback-yes";
    var no = el("button", "Cancel", "secondary");
    no.type = "button";
    area.appendChild(yes);
    area.appendChild(no);
    $("rollback-button").after(area);
    yes.addEventListener("click", function () {
      area.remove();
      rollback();
    });
    no.addEventListener("click", function () {
      area.remove();
      $("rollback-button").focus();
    });
    yes.focus();
  }

  async function rollback() {
    var button = $("rollback-button");
    button.disabled = true;
    status("rollback-status", "Rolling back…");
    try {
      var result = await call("POST", "/v1/knowledge/rollback");
      status(
        "rollback-status",
        "Rolled back: " + result.live + " is live" + (result.previous ? " (was " + result.previous + ")." : "."),
        "ok"
      );
    } catch (e) {
      status("rollback-status", e.message, "error");
    } finally {
      button.disabled = false;
      button.focus();
    }
  }

  /* ---------- key ---------- */

  function start() {
    $("admin-key").value = api.key();
    if (api.key()) status("key-status", "Using the key from this tab's session.");
    $("key-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var value = $("admin-key").value.trim();
      if (!value) {
        status("key-status", "Type the admin key.", "error");
        return;
      }
      setKey(value);
      status("key-status", "Key saved for this tab.", "ok");
      loadArticles();
    });
    $("forget-key").addEventListener("click", function () {
      setKey("");
      $("admin-key").value = "";
      status("key-status", "Key forgotten.");
      $("admin-key").focus();
    });
    $("refresh-articles").addEventListener("click", loadArticles);
    $("reindex-form").addEventListener("submit", startReindex);
    $("rollback-button").addEventListener("click", askRollback);
    if (api.key()) loadArticles();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
