// Review page: a transcript line's time button plays the recording from that moment.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-seek]");
    if (!button) return;
    var at = parseFloat(button.getAttribute("data-seek"));
    var players = Array.prototype.slice.call(document.querySelectorAll("audio[data-start]"));
    var player = players.filter(function (p) { return parseFloat(p.getAttribute("data-start")) <= at; }).pop() || players[0];
    if (!player) return;
    player.currentTime = Math.max(0, at - parseFloat(player.getAttribute("data-start")));
    player.play();
  });
})();
