// The year to date beside each output figure, updated as the partner types: the figure typed plus the earlier
// reported quarters (or, for a level such as cases open, the figure typed itself). Without JavaScript the page
// shows the same sum, worked out by the portal when the page is drawn or saved.
const FIGURE = /^\s*\d+(\.\d{1,2})?\s*$/; // as the portal accepts a figure: digits, up to 2 decimals

function parse(text) {
  if (!FIGURE.test(text)) return null;
  return Number(text.trim());
}

// As the portal formats a figure: 1,234 for a whole number, 5,840.50 otherwise.
function format(value) {
  const whole = Number.isInteger(value);
  return value.toLocaleString("en-GB", {
    minimumFractionDigits: whole ? 0 : 2,
    maximumFractionDigits: whole ? 0 : 2,
  });
}

for (const output of document.querySelectorAll("[data-year-to-date-for]")) {
  const input = document.getElementById(output.dataset.yearToDateFor);
  if (!input) continue;
  const before = output.dataset.before === "" ? null : Number(output.dataset.before);
  const latest = output.dataset.combine === "latest";
  input.addEventListener("input", () => {
    const typed = parse(input.value);
    let total;
    if (latest) total = typed ?? before;
    else if (typed === null) total = before;
    else total = Math.round(((before ?? 0) + typed) * 100) / 100;
    output.textContent = total === null ? "—" : format(total);
  });
}
