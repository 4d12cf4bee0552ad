// The idle-timeout warning (WCAG 2.2.1): the dialog in _session_timeout.html opens SESSION_WARNING_SECONDS before
// the session would end for lack of activity. "Stay signed in" (or Escape) posts to /session/keep-alive with the
// form's CSRF token; "Sign out" is a plain form. A request htmx makes (an autosave) counts as activity.
(() => {
  const dialog = document.getElementById("portal-session-timeout");
  if (!dialog || typeof dialog.showModal !== "function") return;
  const idleMs = Number(dialog.dataset.idleSeconds) * 1000;
  const warningMs = Math.min(Number(dialog.dataset.warningSeconds) * 1000, idleMs);
  const keepForm = document.getElementById("portal-session-timeout-keep");
  const text = document.getElementById("portal-session-timeout-text");
  let warnTimer = 0;
  let endTimer = 0;
  let returnFocus = null;

  const schedule = () => {
    clearTimeout(warnTimer);
    clearTimeout(endTimer);
    warnTimer = setTimeout(warn, idleMs - warningMs);
    endTimer = setTimeout(signedOut, idleMs);
  };

  const warn = () => {
    if (dialog.open) return;
    returnFocus = document.activeElement;
    dialog.showModal(); // the rest of the page becomes inert; focus moves to "Stay signed in"
    keepForm.querySelector("button").focus();
  };

  const close = () => {
    dialog.close();
    if (returnFocus instanceof HTMLElement) returnFocus.focus();
  };

  const signedOut = () => {
    text.textContent = text.dataset.signedOutText;
    document.getElementById("portal-session-timeout-heading").textContent = "You have been signed out";
    keepForm.hidden = true;
    if (!dialog.open) warn();
    const signOut = dialog.querySelector("form:not([hidden]) button");
    signOut.textContent = "Close";
    signOut.closest("form").addEventListener("submit", (event) => {
      event.preventDefault();
      close();
    });
    signOut.focus();
  };

  const stay = async () => {
    const response = await fetch(keepForm.action, {
      method: "POST",
      body: new FormData(keepForm),
      credentials: "same-origin",
      headers: { "X-CSRFToken": keepForm.elements.csrf_token.value },
    });
    if (response.status === 204) {
      close();
      schedule();
    } else {
      signedOut();
    }
  };

  keepForm.addEventListener("submit", (event) => {
    event.preventDefault();
    stay();
  });
  // Escape means "stay signed in", not "close and be signed out unawares".
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    if (!keepForm.hidden) stay();
  });
  // Keep Tab and Shift+Tab inside the dialog.
  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    const focusable = [...dialog.querySelectorAll("button")].filter((button) => !button.closest("[hidden]"));
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });
  document.addEventListener("htmx:after:request", () => {
    if (!dialog.open) schedule();
  });
  schedule();
})();
