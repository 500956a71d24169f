/*
 * What the content owners' page and the agent console share: DOM helpers, an API key kept in
 * sessionStorage (gone when the tab closes), and JSON calls that send it as X-API-Key and turn a
 * problem response (RFC 9457) into an Error with a sentence for people.
 */
(function () {
  "use strict";

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function status(id, text, kind) {
    var node = $(id);
    node.textContent = text || "";
    node.className = "bb-status" + (kind ? " " + kind : "");
  }

  // role: "admin" or "agent"; names the sessionStorage entry and the refusal message.
  function client(role) {
    var storageKey = "budbringer." + role + "Key";
    var memoryKey = "";
    try {
      memoryKey = sessionStorage.getItem(storageKey) || "";
    } catch (e) {
      memoryKey = "";
    }

    function setKey(value) {
      memoryKey = value;
      try {
        if (value) sessionStorage.setItem(storageKey, value);
        else sessionStorage.removeItem(storageKey);
      } catch (e) {
        /* storage disabled: the key lasts until the page is left */
      }
    }

    async function call(method, path, body) {
      var headers = { "X-API-Key": memoryKey, Accept: "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      var response = await fetch(path, {
        method: method,
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store"
      });
      var data = null;
      try {
        data = await response.json();
      } catch (e) {
        data = null;
      }
      if (!response.ok) {
        var detail = (data && data.detail) || "HTTP " + response.status;
        var message =
          response.status === 401 || response.status === 403
            ? "The " + role + " key was not accepted (" + detail + ")."
            : detail;
        var error = new Error(message);
        error.status = response.status;
        error.problem = data;
        throw error;
      }
      return data;
    }

    return {
      key: function () {
        return memoryKey;
      },
      setKey: setKey,
      call: call
    };
  }

  window.BudbringerKeyed = { $: $, el: el, status: status, client: client };
})();
