// Initialise GOV.UK Frontend components on the page and in content htmx swaps in.
import { initAll } from "../vendor/govuk-frontend/govuk-frontend.min.js";

initAll();
document.addEventListener("htmx:after:swap", (event) => {
  const target = event.target instanceof Element ? event.target : document.body;
  initAll({ scope: target });
});
