// Initialise GOV.UK Frontend components on the page and in content htmx swaps in.
import { initAll } from "../vendor/govuk-frontend/govuk-frontend.min.js";

initAll();
// Only the new content: the swap's source element (or the document) holds components already initialised.
document.addEventListener("htmx:after:settle", (event) => {
  for (const node of event.detail.newContent ?? []) {
    if (node instanceof Element) initAll({ scope: node });
  }
});
import "./year-to-date.js";
