// deskdrill workspace: live SLA countdowns on the drill's simulated clock, the macro
// picker, knowledge-base filtering and keyboard shortcuts. No build step, no framework.
(function () {
  "use strict";

  function label(state) {
    return document.body.dataset["label" + state.charAt(0).toUpperCase() + state.slice(1)] || state;
  }

  // The simulated "now": the server's value at render time, advanced at the drill's speed
  // on this page's monotonic clock (so a skewed computer clock does not matter).
  function simNow() {
    var bar = document.querySelector(".clockbar");
    if (!bar) return null;
    if (bar._loaded === undefined) bar._loaded = performance.now();
    var base = Date.parse(bar.dataset.simNow);
    if (bar.dataset.running !== "true") return base;
    return base + (performance.now() - bar._loaded) * parseFloat(bar.dataset.speed || "1");
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function clockText(ms) {
    var d = new Date(ms);
    return pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + pad(d.getUTCHours()) +
      ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  }

  // The same forms as the server's (web/templating.py: duration, age).
  function duration(s) {
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + ":" + pad(m) : String(m)) + ":" + pad(s % 60);
  }

  function age(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + "s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + "m";
    var h = Math.floor(m / 60);
    if (h < 24) return h + "h " + pad(m % 60) + "m";
    return Math.floor(h / 24) + "d " + (h % 24) + "h";
  }

  function tick() {
    var now = simNow();
    if (now === null) return;
    var bar = document.querySelector(".clockbar");
    var shown = now + parseInt((bar && bar.dataset.offset) || "0", 10) * 60000;  // drill's zone
    document.querySelectorAll(".sim-now").forEach(function (el) { el.textContent = clockText(shown); });
    document.querySelectorAll(".age[data-since]").forEach(function (el) {
      el.textContent = age(now - Date.parse(el.dataset.since));
    });
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var fixed = el.dataset.state === "met" || el.dataset.state === "paused";
      if (fixed) return;
      // The moments come from the server, which knows the policy's business hours.
      var left = Math.round((Date.parse(el.dataset.due) - now) / 1000);
      var warn = Date.parse(el.dataset.warn || el.dataset.due);
      var state = left < 0 ? "breached" : (now >= warn ? "warning" : "ok");
      if (el.dataset.state !== state) {
        el.classList.remove("state-" + el.dataset.state);
        el.classList.add("state-" + state);
        el.dataset.state = state;
      }
      el.querySelector(".label").textContent = label(state);
      if (el.dataset.openTime) return;  // business hours: the server counts open time
      el.querySelector(".left").textContent = duration(Math.abs(left)) + " " +
        (left >= 0 ? label("left") : label("over"));
    });
  }

  document.addEventListener("change", function (event) {
    var picker = event.target.closest("select[data-macro-target]");
    if (!picker || !picker.value) return;
    var box = document.getElementById(picker.dataset.macroTarget);
    box.value = box.value.trim() ? box.value.replace(/\s+$/, "") + "\n" + picker.value : picker.value;
    picker.selectedIndex = 0;
    box.focus();
  });

  document.addEventListener("input", function (event) {
    var box = event.target.closest("input[data-filter]");
    if (!box) return;
    var words = box.value.trim().toLowerCase();
    document.querySelectorAll(box.dataset.filter).forEach(function (item) {
      item.hidden = words !== "" && item.textContent.toLowerCase().indexOf(words) < 0;
    });
  });

  document.body.addEventListener("composer-sent", function () {
    var form = document.getElementById("composer");
    if (form) form.reset();
  });

  function openForm(id) {
    var form = document.getElementById(id);
    if (!form) return;
    form.closest("details").open = true;
    var first = form.querySelector("select, input:not([type=hidden]), textarea");
    if (first) first.focus();
  }

  document.addEventListener("keydown", function (event) {
    var typing = event.target.closest("input, textarea, select, [contenteditable]");
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.id === "body") {
      event.preventDefault();
      document.querySelector("#composer button.primary").click();
      return;
    }
    if (event.altKey && (event.key === "m" || event.key === "µ")) {
      var picker = document.getElementById("macro");
      if (picker) { event.preventDefault(); picker.focus(); }
      return;
    }
    if (typing && event.key === "Escape") { event.target.blur(); return; }  // back to shortcuts
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "c") {
      var claim = document.querySelector("[data-shortcut=c]");
      if (claim) claim.click();
    } else if (event.key === "e") {
      event.preventDefault(); openForm("escalate-form");
    } else if (event.key === "r") {
      event.preventDefault(); openForm("resolve-form");
    } else if (event.key === "/") {
      var kb = document.getElementById("kb-search");
      if (kb) { event.preventDefault(); kb.focus(); }
    }
  });

  // A live refresh of the ticket (someone else changed it, a customer wrote) keeps what
  // this person was doing: open sections, what they typed, and where the cursor was.
  // After their own action the fresh view is shown as it comes.
  var kept = null;
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    kept = null;
    if (!target || target.id !== "ticket-view" || event.detail.requestConfig.elt !== target) return;
    kept = { open: [], values: {}, focus: document.activeElement && document.activeElement.id };
    target.querySelectorAll("details[open]").forEach(function (d) { kept.open.push(d.id); });
    target.querySelectorAll("input[id], select[id], textarea[id]").forEach(function (field) {
      if (field.type === "hidden") return;
      var changed = field.tagName === "SELECT"
        ? !field.options[field.selectedIndex] || !field.options[field.selectedIndex].defaultSelected
        : field.value !== field.defaultValue;
      if (changed) kept.values[field.id] = field.value;
    });
  });
  document.body.addEventListener("htmx:afterSwap", function () {
    if (!kept) return;
    var view = document.getElementById("ticket-view");
    if (view) {
      kept.open.forEach(function (id) { var d = document.getElementById(id); if (d) d.open = true; });
      Object.keys(kept.values).forEach(function (id) {
        var field = document.getElementById(id);
        if (field && view.contains(field)) field.value = kept.values[id];
      });
      var focus = kept.focus && document.getElementById(kept.focus);
      if (focus && view.contains(focus)) focus.focus();
    }
    kept = null;
  });

  // A link to evidence (#ev-12) opens the trail at that event.
  function showEvidence() {
    if (location.hash.indexOf("#ev-") !== 0) return;
    var trail = document.getElementById("open-trail");
    var event = document.getElementById(location.hash.slice(1));
    if (trail && event) { trail.open = true; event.classList.add("highlight"); event.scrollIntoView(); }
  }
  document.addEventListener("DOMContentLoaded", showEvidence);
  window.addEventListener("hashchange", showEvidence);

  // Confirmations step aside after a while; errors stay until dismissed.
  document.body.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("#alerts .alert.ok:not([data-fading])").forEach(function (el) {
      el.dataset.fading = "1";
      setTimeout(function () { el.remove(); }, 6000);
    });
  });

  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);
  setInterval(tick, 1000);
})();
