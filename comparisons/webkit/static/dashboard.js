// Dashboard behaviour, loaded from this site only (the CSP forbids inline scripts):
// ask before destructive buttons, and live-poll a page fragment when "Live poll" is on.
(function () {
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  var live = document.querySelector("[data-poll-url]");
  var toggle = document.getElementById("live-toggle");
  if (!live || !toggle) return;
  var timer = null;
  var every = parseInt(live.getAttribute("data-poll-ms"), 10) || 2000;
  function refresh() {
    fetch(live.getAttribute("data-poll-url"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { live.innerHTML = html; live.setAttribute("data-polled", Date.now()); })
      .catch(function () { /* keep the last view; the next tick tries again */ });
  }
  function set(on) {
    if (timer) { clearInterval(timer); timer = null; }
    if (on) { refresh(); timer = setInterval(refresh, every); }
    toggle.textContent = on ? "Stop live poll" : "Live poll";
    try { localStorage.setItem("live-poll", on ? "1" : ""); } catch (e) {}
  }
  toggle.addEventListener("click", function (e) { e.preventDefault(); set(!timer); });
  var saved = null;
  try { saved = localStorage.getItem("live-poll"); } catch (e) {}
  set(saved === null ? true : saved === "1");
})();
