// Enables the "send the code again" button when its countdown reaches zero, and keeps the page's
// «новый можно запросить через N с» ([data-resend-seconds] inside [data-resend-wait]) in step.
// Without JavaScript the button stays disabled until the page is reloaded; the server enforces
// the limit either way.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-countdown]").forEach(function (button) {
    var left = parseInt(button.getAttribute("data-countdown"), 10) || 0;
    var label = button.querySelector("[data-countdown-seconds]");
    var hint = button.querySelector(".countdown");
    var notes = document.querySelectorAll("[data-resend-wait]");
    if (left <= 0) { button.disabled = false; return; }
    var timer = setInterval(function () {
      left -= 1;
      if (label) { label.textContent = String(left); }
      notes.forEach(function (note) {
        var seconds = note.querySelector("[data-resend-seconds]");
        if (left > 0 && seconds) { seconds.textContent = String(left); }
        if (left <= 0) { note.textContent = "сейчас"; }
      });
      if (left <= 0) {
        clearInterval(timer);
        button.disabled = false;
        if (hint) { hint.textContent = ""; }
      }
    }, 1000);
  });
});
