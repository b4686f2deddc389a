// Scheduled Spaces and notifications (issue 18), with no inline script (the CSP forbids it):
// - every <time class="local-time"> shows its moment in the viewer's time zone (UTC before);
// - the create form sends the chosen `Start time` converted to UTC (`start_utc`), because a
//   datetime-local field has no zone; without this script the server reads it as UTC;
// - the navigation's `Notifications` count is asked for when the page is shown again, and once
//   a minute while shown, unless the page has a live socket (room, Explore, scheduled Space),
//   which pushes it.
(function () {
  "use strict";

  const format = new Intl.DateTimeFormat(undefined, {
    weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit",
    timeZoneName: "short",
  });

  function localize(root) {
    (root || document).querySelectorAll("time.local-time").forEach((el) => {
      const when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when)) el.textContent = format.format(when);
    });
    (root || document).querySelectorAll("[data-time-zone]").forEach((el) => {
      el.textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || "your time zone";
    });
    (root || document).querySelectorAll("input[type=datetime-local][data-horizon-days]").forEach((el) => {
      const pad = (n) => String(n).padStart(2, "0");
      const local = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
      const now = new Date();
      el.min = local(now);
      el.max = local(new Date(now.getTime() + Number(el.dataset.horizonDays) * 86400000));
    });
  }

  function toUtc(form) {
    const field = form.querySelector("input[name=start_time]");
    const hidden = form.querySelector("input[name=start_utc]");
    if (!field || !hidden) return;
    const when = field.value ? new Date(field.value) : null; // parsed as local time
    hidden.value = when && !isNaN(when) ? when.toISOString() : "";
  }

  document.addEventListener("input", (e) => {
    if (e.target.name === "start_time" && e.target.form) toUtc(e.target.form);
  });
  // Capture: before htmx (hx-boost) reads the form.
  document.addEventListener("submit", (e) => toUtc(e.target), true);

  let last = 0;
  function refreshCount(force) {
    const link = document.getElementById("nav-notifications");
    if (!link || document.visibilityState !== "visible" || !window.htmx) return;
    const pushed = document.querySelector("[ws-connect]");
    const t = Date.now();
    if (!force && (pushed || t - last < 55000)) return;
    if (t - last < 5000) return; // focus and visibility often fire together
    last = t;
    window.htmx.ajax("GET", "/notifications/count", { target: "#nav-notifications", swap: "outerHTML" });
  }

  document.addEventListener("visibilitychange", () => refreshCount(true));
  window.addEventListener("focus", () => refreshCount(true));
  setInterval(() => refreshCount(false), 60000);

  // A page's feed socket (Explore, a scheduled Space): its element carries `ws-connect` inside
  // an hx-ext="ws", but the extension hears only of nodes htmx processes inside that hx-ext, and
  // a page loaded whole (or swapped in by hx-boost) is processed from <body>. So, once htmx is
  // done with the page, the element is processed again, unchanged (a changed element would be
  // cleaned up, closing its socket); `htmx:wsConnecting` marks it so it is never opened twice.
  document.addEventListener("htmx:wsConnecting", (e) => {
    if (e.target.dataset) e.target.dataset.connecting = "1";
  });
  function connectFeeds(root) {
    const found = Array.from(root.querySelectorAll("[data-feed]"));
    if (root.matches && root.matches("[data-feed]")) found.push(root);
    found.forEach((el) => {
      setTimeout(() => {
        if (!el.dataset.connecting && document.body.contains(el)) window.htmx.process(el);
      }, 0);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    last = Date.now();
    localize(document);
    connectFeeds(document.body);
    window.htmx.onLoad((elt) => { localize(elt); connectFeeds(elt); });
  });
})();
