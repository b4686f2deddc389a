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

  // A page's feed socket (Explore, a scheduled Space): connected once htmx has loaded the
  // element. (The ws extension hears only of nodes processed inside its hx-ext, so a socket in a
  // page loaded whole would never open by itself.)
  function connectFeeds(root) {
    const found = Array.from(root.querySelectorAll("[data-feed]:not([ws-connect])"));
    if (root.matches && root.matches("[data-feed]:not([ws-connect])")) found.push(root);
    found.forEach((el) => {
      el.setAttribute("ws-connect", el.dataset.feed);
      window.htmx.process(el);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    last = Date.now();
    localize(document);
    connectFeeds(document.body);
    window.htmx.onLoad((elt) => { localize(elt); connectFeeds(elt); });
  });
})();
