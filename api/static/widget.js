/*
 * Budbringer chat widget. No framework, no build step, nothing loaded from elsewhere.
 *
 * Embed it on any page:
 *
 *   <script src="https://host/widget.js" data-budbringer-api="https://host" defer></script>
 *
 * It adds a launcher button and a chat panel. With data-budbringer-target="#some-element" it
 * renders inline in that element instead (the chat page at / does this). The API origin must
 * list the embedding page in BUDBRINGER_CORS_ORIGINS.
 *
 * A turn is sent with Accept: text/event-stream and read with fetch() + ReadableStream
 * (EventSource cannot POST or send the bearer token). Events: progress {text}, message
 * {role, text}, turn (the full Turn), error (a problem). The conversation id and token live
 * in sessionStorage, so a reload continues the conversation (GET /v1/conversations/{id}).
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) return;
  var API = (script.getAttribute("data-budbringer-api") || new URL(script.src, location.href).origin)
    .replace(/\/+$/, "");
  var TARGET = script.getAttribute("data-budbringer-target");
  var STORE_KEY = "budbringer.conversation:" + API;
  var LANG_KEY = "budbringer.language";
  var LANGUAGES = ["da", "sv", "nb", "fi", "en"];
  var LANGUAGE_NAMES = { da: "Dansk", sv: "Svenska", nb: "Norsk (bokmål)", fi: "Suomi", en: "English" };
  var ALIASES = { no: "nb", nn: "nb", nob: "nb", dan: "da", swe: "sv", fin: "fi", eng: "en" };
  // Faces from Unicode 6.0, which every emoji font has (newer ones show as boxes on some systems).
  var SMILEYS = ["😠", "😞", "😐", "😊", "😄"];
  var POLL_MS = 2000;

  var TEXT = {
    da: {
      title: "Budbringer kundeservice", launcher: "Chat med os", input: "Skriv en besked", send: "Send",
      close: "Afslut samtale", minimise: "Minimer chat", language: "Sprog",
      typing: "Assistenten skriver…", you: "Dig", assistant: "Budbringer", agent: "Medarbejder",
      sources: "Læs mere:", quick: "Forslag til svar", log: "Beskeder",
      rate: "Hvordan var samtalen?",
      ratings: ["Meget utilfreds", "Utilfreds", "Hverken eller", "Tilfreds", "Meget tilfreds"],
      comment: "Kommentar (valgfri)", submitRating: "Send bedømmelse", skip: "Spring over",
      thanks: "Tak for din bedømmelse!", ended: "Samtalen er afsluttet.", newChat: "Start ny samtale",
      chooseRating: "Vælg en smiley først.",
      error: "Noget gik galt. Prøv igen om lidt.",
      rateLimited: "Du har sendt mange beskeder. Vent lidt, og prøv igen.",
      offline: "Vi kan ikke komme i kontakt med kundeservice lige nu. Tjek din forbindelse, og prøv igen."
    },
    sv: {
      title: "Budbringer kundtjänst", launcher: "Chatta med oss", input: "Skriv ett meddelande", send: "Skicka",
      close: "Avsluta samtalet", minimise: "Minimera chatten", language: "Språk",
      typing: "Assistenten skriver…", you: "Du", assistant: "Budbringer", agent: "Handläggare",
      sources: "Läs mer:", quick: "Svarsförslag", log: "Meddelanden",
      rate: "Hur var samtalet?",
      ratings: ["Mycket missnöjd", "Missnöjd", "Varken eller", "Nöjd", "Mycket nöjd"],
      comment: "Kommentar (valfri)", submitRating: "Skicka betyg", skip: "Hoppa över",
      thanks: "Tack för ditt betyg!", ended: "Samtalet är avslutat.", newChat: "Starta nytt samtal",
      chooseRating: "Välj en smiley först.",
      error: "Något gick fel. Försök igen om en stund.",
      rateLimited: "Du har skickat många meddelanden. Vänta lite och försök igen.",
      offline: "Vi når inte kundtjänst just nu. Kontrollera din anslutning och försök igen."
    },
    nb: {
      title: "Budbringer kundeservice", launcher: "Chat med oss", input: "Skriv en melding", send: "Send",
      close: "Avslutt samtalen", minimise: "Minimer chatten", language: "Språk",
      typing: "Assistenten skriver…", you: "Deg", assistant: "Budbringer", agent: "Rådgiver",
      sources: "Les mer:", quick: "Svarforslag", log: "Meldinger",
      rate: "Hvordan var samtalen?",
      ratings: ["Svært misfornøyd", "Misfornøyd", "Verken eller", "Fornøyd", "Svært fornøyd"],
      comment: "Kommentar (valgfri)", submitRating: "Send vurdering", skip: "Hopp over",
      thanks: "Takk for vurderingen!", ended: "Samtalen er avsluttet.", newChat: "Start ny samtale",
      chooseRating: "Velg en smiley først.",
      error: "Noe gikk galt. Prøv igjen om litt.",
      rateLimited: "Du har sendt mange meldinger. Vent litt og prøv igjen.",
      offline: "Vi får ikke kontakt med kundeservice akkurat nå. Sjekk tilkoblingen og prøv igjen."
    },
    fi: {
      title: "Budbringer asiakaspalvelu", launcher: "Keskustele kanssamme", input: "Kirjoita viesti",
      send: "Lähetä", close: "Lopeta keskustelu", minimise: "Pienennä chat", language: "Kieli",
      typing: "Avustaja kirjoittaa…", you: "Sinä", assistant: "Budbringer", agent: "Asiakaspalvelija",
      sources: "Lue lisää:", quick: "Vastausehdotukset", log: "Viestit",
      rate: "Millainen keskustelu oli?",
      ratings: ["Erittäin tyytymätön", "Tyytymätön", "Ei hyvä eikä huono", "Tyytyväinen", "Erittäin tyytyväinen"],
      comment: "Kommentti (vapaaehtoinen)", submitRating: "Lähetä arvio", skip: "Ohita",
      thanks: "Kiitos arviostasi!", ended: "Keskustelu on päättynyt.", newChat: "Aloita uusi keskustelu",
      chooseRating: "Valitse ensin hymiö.",
      error: "Jokin meni vikaan. Yritä hetken päästä uudelleen.",
      rateLimited: "Olet lähettänyt paljon viestejä. Odota hetki ja yritä uudelleen.",
      offline: "Emme saa juuri nyt yhteyttä asiakaspalveluun. Tarkista yhteytesi ja yritä uudelleen."
    },
    en: {
      title: "Budbringer customer service", launcher: "Chat with us", input: "Write a message", send: "Send",
      close: "End conversation", minimise: "Minimise chat", language: "Language",
      typing: "The assistant is typing…", you: "You", assistant: "Budbringer", agent: "Agent",
      sources: "Read more:", quick: "Suggested replies", log: "Messages",
      rate: "How was the conversation?",
      ratings: ["Very dissatisfied", "Dissatisfied", "Neither", "Satisfied", "Very satisfied"],
      comment: "Comment (optional)", submitRating: "Send rating", skip: "Skip",
      thanks: "Thank you for your rating!", ended: "The conversation has ended.",
      newChat: "Start a new conversation", chooseRating: "Choose a smiley first.",
      error: "Something went wrong. Please try again in a moment.",
      rateLimited: "You have sent many messages. Wait a little and try again.",
      offline: "We cannot reach customer service right now. Check your connection and try again."
    }
  };

  /* ---------- language ---------- */

  function normaliseLanguage(tag) {
    if (!tag) return null;
    var primary = String(tag).toLowerCase().split(/[-_]/)[0];
    primary = ALIASES[primary] || primary;
    return LANGUAGES.indexOf(primary) >= 0 ? primary : null;
  }

  function browserLanguage() {
    var tags = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
    for (var i = 0; i < tags.length; i++) {
      var lang = normaliseLanguage(tags[i]);
      if (lang) return lang;
    }
    return "en";
  }

  /* ---------- storage ---------- */

  function load(key) {
    try {
      return JSON.parse(sessionStorage.getItem(key) || "null");
    } catch (e) {
      return null;
    }
  }

  function save(key, value) {
    try {
      if (value === null) sessionStorage.removeItem(key);
      else sessionStorage.setItem(key, JSON.stringify(value));
    } catch (e) {
      /* private mode: the conversation simply does not survive a reload */
    }
  }

  /* ---------- DOM helpers ---------- */

  var uid = 0;
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      for (var name in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, name)) continue;
        var value = attrs[name];
        if (value === null || value === undefined || value === false) continue;
        if (name === "text") node.textContent = value;
        else if (name === "className") node.className = value;
        else node.setAttribute(name, value === true ? "" : value);
      }
    }
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function ensureStylesheet() {
    var href = API + "/static/widget.css";
    var links = document.querySelectorAll("link[rel=stylesheet]");
    for (var i = 0; i < links.length; i++) if (links[i].href === href) return;
    document.head.appendChild(el("link", { rel: "stylesheet", href: href }));
  }

  /* ---------- Server-Sent Events over fetch ---------- */

  // Reads `text/event-stream` from a fetch response and calls onEvent(name, data) per event.
  // Lines may end in \r\n (sse-starlette's default), \n or \r; a \r at the end of a chunk is held
  // back so a \r\n split across two chunks is not read as two line ends.
  async function readEvents(response, onEvent, signal) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var raw = "";
    var text = "";
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      if (signal && signal.aborted) break;
      raw += decoder.decode(chunk.value, { stream: true });
      var held = "";
      if (raw.charAt(raw.length - 1) === "\r") {
        held = "\r";
        raw = raw.slice(0, -1);
      }
      text += raw.replace(/\r\n|\r/g, "\n");
      raw = held;
      var end;
      while ((end = text.indexOf("\n\n")) >= 0) {
        var block = text.slice(0, end);
        text = text.slice(end + 2);
        var name = "message";
        var data = [];
        block.split("\n").forEach(function (line) {
          if (!line || line.charAt(0) === ":") return;
          var colon = line.indexOf(":");
          var field = colon < 0 ? line : line.slice(0, colon);
          var value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") name = value;
          else if (field === "data") data.push(value);
        });
        if (data.length) {
          var payload;
          try {
            payload = JSON.parse(data.join("\n"));
          } catch (e) {
            payload = data.join("\n");
          }
          onEvent(name, payload);
        }
      }
    }
  }

  async function problemOf(response) {
    try {
      return await response.json();
    } catch (e) {
      return { status: response.status, code: "http_" + response.status, detail: "" };
    }
  }

  /* ---------- the widget ---------- */

  function Widget(host, inline) {
    this.host = host;
    this.inline = inline;
    this.id = "bb" + ++uid;
    this.language = normaliseLanguage(load(LANG_KEY)) || browserLanguage();
    this.conversation = load(STORE_KEY); // {id, token, language, customerSpoke, rated, seen, agentSeen, ended}
    this.busy = false;
    this.poll = null;
    this.stream = null;
    this.build();
    this.applyLanguage();
    if (inline) this.open();
  }

  Widget.prototype.t = function (key) {
    return (TEXT[this.language] || TEXT.en)[key];
  };

  Widget.prototype.build = function () {
    var self = this;
    var id = this.id;
    this.titleEl = el("h2", { id: id + "-title", className: "bb-title" });
    this.langLabel = el("label", { for: id + "-lang", className: "bb-lang-label" });
    this.langSelect = el(
      "select",
      { id: id + "-lang", className: "bb-lang" },
      LANGUAGES.map(function (code) {
        return el("option", { value: code, lang: code, text: LANGUAGE_NAMES[code] });
      })
    );
    this.closeButton = el("button", { type: "button", className: "bb-button bb-end" });
    var headButtons = [this.closeButton];
    if (!this.inline) {
      this.minimiseButton = el("button", { type: "button", className: "bb-icon-button bb-minimise" }, [
        el("span", { "aria-hidden": "true", text: "×" })
      ]);
      headButtons.push(this.minimiseButton);
    }
    var head = el("div", { className: "bb-head" }, [
      this.titleEl,
      el("div", { className: "bb-head-controls" }, [this.langLabel, this.langSelect].concat(headButtons))
    ]);
    this.log = el("ol", {
      className: "bb-log",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      id: id + "-log",
      tabindex: "0"
    });
    this.typing = el("div", { className: "bb-typing", role: "status", "aria-live": "polite" });
    this.quick = el("div", { className: "bb-quick", role: "group", hidden: true });
    this.notice = el("p", { className: "bb-notice", role: "alert", hidden: true });
    this.ratingBox = el("div", { className: "bb-rating-box" });
    this.input = el("input", {
      id: id + "-input",
      className: "bb-input",
      type: "text",
      autocomplete: "off",
      maxlength: "2000",
      enterkeyhint: "send"
    });
    this.inputLabel = el("label", { for: id + "-input", className: "bb-sr" });
    this.sendButton = el("button", { type: "submit", className: "bb-button bb-send" });
    this.form = el("form", { className: "bb-form", novalidate: true }, [
      this.inputLabel,
      this.input,
      this.sendButton
    ]);
    this.panel = el(
      "section",
      {
        className: "bb-panel" + (this.inline ? " bb-inline" : " bb-floating"),
        id: id + "-panel",
        "aria-labelledby": id + "-title",
        hidden: this.inline ? null : true
      },
      [head, this.log, this.typing, this.quick, this.ratingBox, this.notice, this.form]
    );
    if (!this.inline) {
      this.launcher = el("button", {
        type: "button",
        className: "bb-launcher",
        "aria-expanded": "false",
        "aria-controls": id + "-panel"
      });
      this.launcher.addEventListener("click", function () {
        if (self.panel.hidden) self.open();
        else self.hide();
      });
      this.minimiseButton.addEventListener("click", function () {
        self.hide();
      });
      this.panel.addEventListener("keydown", function (event) {
        if (event.key === "Escape") {
          event.preventDefault();
          self.hide();
        }
      });
      this.host.appendChild(this.launcher);
    }
    this.host.appendChild(this.panel);

    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = self.input.value.trim();
      if (!text || self.busy) return;
      self.input.value = "";
      self.send(text);
    });
    this.langSelect.addEventListener("change", function () {
      self.changeLanguage(self.langSelect.value);
    });
    this.closeButton.addEventListener("click", function () {
      self.end();
    });
  };

  Widget.prototype.applyLanguage = function () {
    this.panel.setAttribute("lang", this.language);
    this.titleEl.textContent = this.t("title");
    this.langLabel.textContent = this.t("language");
    this.langSelect.value = this.language;
    this.closeButton.textContent = this.t("close");
    if (this.minimiseButton) this.minimiseButton.setAttribute("aria-label", this.t("minimise"));
    if (this.launcher) this.launcher.textContent = this.t("launcher");
    this.inputLabel.textContent = this.t("input");
    this.input.setAttribute("placeholder", this.t("input"));
    this.sendButton.textContent = this.t("send");
    this.log.setAttribute("aria-label", this.t("log"));
    this.quick.setAttribute("aria-label", this.t("quick"));
    if (this.busy) this.typing.textContent = this.t("typing");
  };

  Widget.prototype.open = function () {
    this.panel.hidden = false;
    if (this.launcher) this.launcher.setAttribute("aria-expanded", "true");
    if (!this.started) {
      this.started = true;
      this.resume();
    }
    if (!this.inline) this.input.focus();
  };

  Widget.prototype.hide = function () {
    this.panel.hidden = true;
    if (this.launcher) {
      this.launcher.setAttribute("aria-expanded", "false");
      this.launcher.focus();
    }
  };

  Widget.prototype.persist = function () {
    save(STORE_KEY, this.conversation);
  };

  Widget.prototype.showNotice = function (text) {
    this.notice.textContent = text || "";
    this.notice.hidden = !text;
  };

  Widget.prototype.setBusy = function (busy, text) {
    this.busy = busy;
    this.sendButton.disabled = busy;
    this.log.setAttribute("aria-busy", busy ? "true" : "false");
    this.typing.textContent = busy ? text || this.t("typing") : "";
    this.typing.classList.toggle("bb-active", busy);
  };

  Widget.prototype.api = function (path, options) {
    options = options || {};
    var headers = options.headers || {};
    if (this.conversation && this.conversation.token && !options.noAuth) {
      headers.Authorization = "Bearer " + this.conversation.token;
    }
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(API + path, {
      method: options.method || "GET",
      headers: headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
      credentials: "omit",
      cache: "no-store"
    });
  };

  /* ----- messages ----- */

  Widget.prototype.addMessage = function (role, text) {
    var who = role === "customer" ? "you" : role === "agent" ? "agent" : "assistant";
    // A person's replies carry a visible name; who else speaks is plain from the layout.
    var item = el("li", { className: "bb-msg bb-" + who }, [
      el("span", { className: who === "agent" ? "bb-who" : "bb-sr", text: this.t(who) + ": " }),
      el("span", { className: "bb-text", text: text })
    ]);
    this.log.appendChild(item);
    this.scroll();
    return item;
  };

  Widget.prototype.addSources = function (citations) {
    if (!citations || !citations.length) return;
    var self = this;
    var list = el(
      "ul",
      { className: "bb-source-list" },
      citations.map(function (c) {
        var lang = normaliseLanguage(c.language) || self.language;
        var href = API + "/help/" + encodeURIComponent(lang) + "/" + encodeURIComponent(c.article_id);
        return el("li", null, [
          el("a", { href: href, target: "_blank", rel: "noopener", hreflang: lang, text: c.title || c.article_id })
        ]);
      })
    );
    this.log.appendChild(
      el("li", { className: "bb-msg bb-sources" }, [el("span", { className: "bb-sources-label", text: this.t("sources") }), list])
    );
    this.scroll();
  };

  Widget.prototype.addSystem = function (text) {
    this.log.appendChild(el("li", { className: "bb-msg bb-system", text: text }));
    this.scroll();
  };

  Widget.prototype.scroll = function () {
    this.log.scrollTop = this.log.scrollHeight;
  };

  Widget.prototype.setQuickReplies = function (replies) {
    var self = this;
    this.quick.textContent = "";
    (replies || []).forEach(function (reply) {
      var button = el("button", { type: "button", className: "bb-chip", text: reply });
      button.addEventListener("click", function () {
        if (self.busy) return;
        self.send(reply);
        self.input.focus();
      });
      self.quick.appendChild(button);
    });
    this.quick.hidden = !(replies && replies.length);
  };

  /* ----- conversation lifecycle ----- */

  Widget.prototype.resume = async function () {
    var stored = this.conversation;
    if (stored && stored.id && stored.token) {
      try {
        var response = await this.api("/v1/conversations/" + encodeURIComponent(stored.id));
        if (response.ok) {
          var state = await response.json();
          this.renderTranscript(state);
          return;
        }
      } catch (e) {
        this.showNotice(this.t("offline"));
        return;
      }
    }
    await this.startConversation();
  };

  Widget.prototype.renderTranscript = function (state) {
    var self = this;
    this.log.textContent = "";
    var agentSeen = 0;
    (state.messages || []).forEach(function (m) {
      self.addMessage(m.role, m.text);
      if (m.role === "agent") agentSeen++;
    });
    this.conversation.agentSeen = agentSeen;
    this.conversation.seen = (state.messages || []).length;
    this.conversation.customerSpoke = (state.messages || []).some(function (m) {
      return m.role === "customer";
    });
    var lang = normaliseLanguage(state.language);
    if (lang && lang !== this.language && !load(LANG_KEY)) {
      this.language = lang;
      this.applyLanguage();
    }
    this.persist();
    if (isLive(state.handoff) && !this.conversation.ended) this.watchAgent(state.handoff);
    if (this.conversation.ended) this.showEnded();
  };

  Widget.prototype.startConversation = async function () {
    this.stopWatching();
    this.log.textContent = "";
    this.setQuickReplies([]);
    this.ratingBox.textContent = "";
    this.showNotice("");
    this.form.hidden = false;
    this.conversation = null;
    this.persist();
    var response;
    try {
      response = await this.api("/v1/conversations", {
        method: "POST",
        body: { language: this.language },
        noAuth: true
      });
    } catch (e) {
      this.showNotice(this.t("offline"));
      return;
    }
    if (!response.ok) {
      this.showProblem(await problemOf(response));
      return;
    }
    var created = await response.json();
    this.conversation = {
      id: created.conversation_id,
      token: created.token,
      language: created.language,
      customerSpoke: false,
      rated: false,
      agentSeen: 0,
      seen: null
    };
    this.persist();
    var self = this;
    (created.messages || []).forEach(function (m) {
      self.addMessage(m.role, m.text);
    });
  };

  Widget.prototype.changeLanguage = function (lang) {
    lang = normaliseLanguage(lang) || "en";
    save(LANG_KEY, lang);
    if (lang === this.language) return;
    this.language = lang;
    this.applyLanguage();
    // Before the customer has written anything, greet again in the chosen language; after that
    // the assistant follows the language the customer writes in.
    if (!this.busy && (!this.conversation || !this.conversation.customerSpoke)) this.startConversation();
  };

  Widget.prototype.showProblem = function (problem) {
    var code = problem && problem.code;
    if (code === "rate_limited") this.showNotice(this.t("rateLimited"));
    else if (code === "validation_error" && problem.detail) this.showNotice(problem.detail);
    else this.showNotice(this.t("error"));
  };

  Widget.prototype.send = async function (text) {
    if (!this.conversation) await this.startConversation();
    if (!this.conversation) return;
    var self = this;
    this.showNotice("");
    this.setQuickReplies([]);
    this.addMessage("customer", text);
    this.conversation.customerSpoke = true;
    this.persist();
    this.setBusy(true);
    var shown = 0;
    var finished = false;
    try {
      var response = await this.api("/v1/conversations/" + encodeURIComponent(this.conversation.id) + "/messages", {
        method: "POST",
        body: { text: text },
        headers: { Accept: "text/event-stream" }
      });
      if (response.status === 401 || response.status === 403) {
        // The conversation is gone (expired, or the server was reset): start afresh.
        await this.startConversation();
        this.showNotice(this.t("error"));
        return;
      }
      if (!response.ok) {
        this.showProblem(await problemOf(response));
        return;
      }
      var type = response.headers.get("content-type") || "";
      if (type.indexOf("text/event-stream") < 0 || !response.body) {
        this.onTurn(await response.json(), 0);
        finished = true;
        return;
      }
      await readEvents(response, function (name, data) {
        if (name === "progress") {
          self.setBusy(true, (data && data.text) || self.t("typing"));
        } else if (name === "message") {
          self.addMessage(data.role || "assistant", data.text || "");
          shown++;
        } else if (name === "turn") {
          self.onTurn(data, shown);
          finished = true;
        } else if (name === "error") {
          self.showProblem(data);
          finished = true;
        }
      });
      if (!finished) this.showNotice(this.t("error"));
    } catch (e) {
      this.showNotice(this.t("offline"));
    } finally {
      this.setBusy(false);
    }
  };

  // A whole Turn: messages not already streamed, sources, quick replies, rating, handoff.
  Widget.prototype.onTurn = function (turn, alreadyShown) {
    var self = this;
    (turn.messages || []).slice(alreadyShown).forEach(function (m) {
      self.addMessage(m.role || "assistant", m.text);
    });
    this.addSources(turn.citations);
    this.setQuickReplies(turn.quick_replies);
    if (turn.flow_status === "completed" || turn.flow_status === "cancelled") this.offerRating(false);
    if (isLive(turn.handoff)) {
      this.watchAgent(turn.handoff);
    } else if (this.watching) {
      this.stopWatching();
    }
  };

  /* ----- agent replies while a person has the conversation ----- */

  // While a person has the conversation (handoff waiting or claimed) the assistant is silent and
  // the agent's replies arrive outside any turn: from the customer event stream when the server
  // has one, else by polling the transcript every 2 s. `seen` is how much of the transcript the
  // widget has shown; `agentSeen` how many agent replies, so a reply that came by the stream is
  // not shown again by a later poll.
  function isLive(handoff) {
    return !!handoff && (handoff.status === "waiting" || handoff.status === "claimed");
  }

  Widget.prototype.watchAgent = async function (handoff) {
    if (this.stream || this.poll || this.watching) return;
    this.watching = true;
    this.handoffId = (handoff && handoff.handoff_id) || null;
    this.streamed = [];
    // The stream starts from the conversation's first handoff message: its n-th agent reply is
    // the transcript's n-th, so the replies already on screen (after a reload) are skipped.
    this.lastSeq = 0;
    this.streamAgents = 0;
    // Everything up to now is on screen (this runs right after a turn or a reload): baseline.
    await this.syncTranscript(false);
    if (this.watching) this.openStream();
  };

  // The customer event stream closes after a while by design; reopen it from the last event
  // seen. Without one (an older server, a proxy that buffers), poll the transcript instead.
  Widget.prototype.openStream = function () {
    var self = this;
    var controller = new AbortController();
    this.stream = controller;
    var path =
      "/v1/conversations/" + encodeURIComponent(this.conversation.id) + "/events?after=" + (this.lastSeq || 0);
    this.api(path, { headers: { Accept: "text/event-stream" }, signal: controller.signal })
      .then(function (response) {
        var type = response.headers.get("content-type") || "";
        if (!response.ok || type.indexOf("text/event-stream") < 0 || !response.body) {
          throw new Error("no event stream");
        }
        return readEvents(
          response,
          function (name, data) {
            if (self.stream === controller) self.onAgentEvent(name, data);
          },
          controller.signal
        );
      })
      .then(
        function () {
          if (self.stream !== controller) return;
          self.stream = null;
          if (self.watching) self.openStream();
        },
        function () {
          if (self.stream !== controller) return;
          self.stream = null;
          if (self.watching && !controller.signal.aborted) self.startPolling();
        }
      );
  };

  Widget.prototype.onAgentEvent = function (name, data) {
    if (!data || typeof data !== "object" || !this.conversation) return;
    if (name === "message") {
      if (typeof data.seq === "number") this.lastSeq = Math.max(this.lastSeq || 0, data.seq);
      if (data.role === "agent" && data.text) {
        this.streamAgents++;
        if (this.streamAgents > (this.conversation.agentSeen || 0)) {
          this.addMessage("agent", data.text);
          this.conversation.agentSeen = this.streamAgents;
          this.persist();
        }
      } else if (data.role === "system" && data.text && data.handoff_id === this.handoffId) {
        // The assistant's words at the hand-back; the transcript holds them too (see sync).
        this.addMessage("assistant", data.text);
        this.streamed.push(data.text);
      }
    } else if (
      name === "handoff" &&
      data.status === "resolved" &&
      (!this.handoffId || data.handoff_id === this.handoffId)
    ) {
      // Handed back. The hand-back message follows in the same batch; then read the transcript.
      var self = this;
      setTimeout(function () {
        self.stopWatching();
        self.syncTranscript(true);
      }, 1000);
    }
  };

  // Show what the transcript holds beyond `seen`: agent replies not shown yet, and the
  // assistant's words (the hand-back). The customer's own messages are already on screen.
  Widget.prototype.syncTranscript = async function (render) {
    if (!this.conversation) return null;
    var response;
    try {
      response = await this.api("/v1/conversations/" + encodeURIComponent(this.conversation.id));
    } catch (e) {
      return null; // offline for a moment: the next poll tries again
    }
    if (!response.ok || !this.conversation) return null;
    var state = await response.json();
    var messages = state.messages || [];
    var seen = typeof this.conversation.seen === "number" ? this.conversation.seen : messages.length;
    var agentIndex = 0;
    var agentSeen = this.conversation.agentSeen || 0;
    for (var i = 0; i < messages.length; i++) {
      var m = messages[i];
      var isAgent = m.role === "agent";
      if (render && i >= seen && m.role !== "customer" && (!isAgent || agentIndex >= agentSeen)) {
        var already = isAgent ? -1 : (this.streamed || []).indexOf(m.text);
        if (already >= 0) this.streamed.splice(already, 1);
        else this.addMessage(m.role, m.text);
      }
      if (isAgent) agentIndex++;
    }
    this.conversation.seen = messages.length;
    this.conversation.agentSeen = Math.max(agentSeen, agentIndex);
    this.persist();
    return state;
  };

  Widget.prototype.startPolling = function () {
    if (this.poll || !this.conversation) return;
    var self = this;
    this.poll = setInterval(async function () {
      var state = await self.syncTranscript(true);
      if (state && !isLive(state.handoff)) self.stopWatching();
    }, POLL_MS);
  };

  Widget.prototype.stopWatching = function () {
    this.watching = false;
    if (this.stream) {
      this.stream.abort();
      this.stream = null;
    }
    if (this.poll) {
      clearInterval(this.poll);
      this.poll = null;
    }
  };

  /* ----- rating and ending ----- */

  Widget.prototype.offerRating = function (ending) {
    if (!this.conversation || this.conversation.rated) {
      if (ending) this.finish();
      return;
    }
    if (this.ratingBox.firstChild) {
      if (ending) this.ratingBox.setAttribute("data-ending", "true");
      var first = this.ratingBox.querySelector("input");
      if (ending && first) first.focus();
      return;
    }
    var self = this;
    var id = this.id;
    var name = id + "-rating";
    var options = SMILEYS.map(function (smiley, index) {
      var value = String(index + 1);
      var inputId = name + "-" + value;
      return el("span", { className: "bb-smiley" }, [
        el("input", { type: "radio", name: name, id: inputId, value: value, className: "bb-sr-input" }),
        el("label", { for: inputId, title: self.t("ratings")[index] }, [
          el("span", { "aria-hidden": "true", className: "bb-face", text: smiley }),
          el("span", { className: "bb-sr", text: value + " – " + self.t("ratings")[index] })
        ])
      ]);
    });
    var commentId = id + "-comment";
    var error = el("p", { className: "bb-rating-error", role: "alert" });
    // Compact: the smileys and the buttons on one row; the comment field opens once a smiley is
    // chosen, so the offer does not crowd out the conversation on a phone.
    var comment = el("div", { className: "bb-comment-box", hidden: true }, [
      el("label", { for: commentId, className: "bb-comment-label", text: this.t("comment") }),
      el("textarea", { id: commentId, className: "bb-comment", rows: "2", maxlength: "2000" })
    ]);
    var form = el("form", { className: "bb-rating", novalidate: true }, [
      el("fieldset", null, [el("legend", { text: this.t("rate") }), el("div", { className: "bb-smileys" }, options)]),
      el("div", { className: "bb-rating-actions" }, [
        el("button", { type: "submit", className: "bb-button", text: this.t("submitRating") }),
        el("button", { type: "button", className: "bb-button bb-secondary bb-skip", text: this.t("skip") })
      ]),
      comment,
      error
    ]);
    form.addEventListener("change", function (event) {
      if (event.target && event.target.type === "radio") {
        comment.hidden = false;
        error.textContent = "";
      }
    });
    if (ending) this.ratingBox.setAttribute("data-ending", "true");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var chosen = form.querySelector("input[type=radio]:checked");
      if (!chosen) {
        error.textContent = self.t("chooseRating");
        form.querySelector("input[type=radio]").focus();
        return;
      }
      var comment = form.querySelector("textarea").value.trim();
      var body = { rating: Number(chosen.value) };
      if (comment) body.comment = comment;
      try {
        var response = await self.api("/v1/conversations/" + encodeURIComponent(self.conversation.id) + "/feedback", {
          method: "POST",
          body: body
        });
        if (!response.ok) {
          var problem = await problemOf(response);
          error.textContent = problem.code === "rate_limited" ? self.t("rateLimited") : self.t("error");
          return;
        }
      } catch (e) {
        error.textContent = self.t("offline");
        return;
      }
      self.conversation.rated = true;
      self.persist();
      var ending = self.ratingBox.getAttribute("data-ending") === "true";
      self.ratingBox.textContent = "";
      self.ratingBox.removeAttribute("data-ending");
      self.addSystem(self.t("thanks"));
      if (ending) self.finish();
      else self.input.focus();
    });
    form.querySelector(".bb-skip").addEventListener("click", function () {
      var ending = self.ratingBox.getAttribute("data-ending") === "true";
      self.ratingBox.textContent = "";
      self.ratingBox.removeAttribute("data-ending");
      if (ending) self.finish();
      else self.input.focus();
    });
    this.ratingBox.appendChild(form);
    this.scroll();
    // Move focus only when the customer asked to end; after a completed flow they may go on typing.
    if (ending) options[0].querySelector("input").focus();
  };

  Widget.prototype.end = function () {
    if (!this.conversation) return;
    this.offerRating(true);
  };

  Widget.prototype.finish = function () {
    this.stopWatching();
    if (this.conversation) {
      this.conversation.ended = true;
      this.persist();
    }
    this.showEnded();
  };

  Widget.prototype.showEnded = function () {
    var self = this;
    this.setQuickReplies([]);
    this.form.hidden = true;
    this.closeButton.hidden = true;
    this.addSystem(this.t("ended"));
    var again = el("button", { type: "button", className: "bb-button bb-new", text: this.t("newChat") });
    again.addEventListener("click", async function () {
      self.ratingBox.textContent = "";
      self.closeButton.hidden = false;
      await self.startConversation();
      self.input.focus();
    });
    this.ratingBox.textContent = "";
    this.ratingBox.appendChild(again);
    again.focus();
  };

  /* ---------- start ---------- */

  function mount() {
    ensureStylesheet();
    var inlineHost = TARGET ? document.querySelector(TARGET) : null;
    var host = inlineHost || document.body.appendChild(el("div", { className: "bb-root" }));
    var widget = new Widget(host, !!inlineHost);
    window.Budbringer = window.Budbringer || {};
    window.Budbringer.widget = widget;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})();
