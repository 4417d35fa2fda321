// Enables the "send the code again" button when its countdown reaches zero.
// Without JavaScript the button stays disabled until the page is reloaded; the server enforces
// the limit either way.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-countdown]").forEach(function (button) {
    var left = parseInt(button.getAttribute("data-countdown"), 10) || 0;
    var label = button.querySelector("[data-countdown-seconds]");
    var hint = button.querySelector(".countdown");
    if (left <= 0) { button.disabled = false; return; }
    var timer = setInterval(function () {
      left -= 1;
      if (label) { label.textContent = String(left); }
      if (left <= 0) {
        clearInterval(timer);
        button.disabled = false;
        if (hint) { hint.textContent = ""; }
      }
    }, 1000);
  });
});
