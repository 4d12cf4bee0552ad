#!/usr/bin/env bash
# Re-vendor GOV.UK Frontend and htmx from the npm registry (a maintainer's step, not a build step).
set -euo pipefail
GOVUK_VERSION=${GOVUK_VERSION:-6.3.0}
HTMX_VERSION=${HTMX_VERSION:-4.0.1}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "govuk-frontend@$GOVUK_VERSION" "htmx.org@$HTMX_VERSION" >/dev/null
mkdir govuk htmx
tar xzf govuk-frontend-*.tgz -C govuk
tar xzf htmx.org-*.tgz -C htmx
out="$root/portal/static/vendor"
sed -e 's/@font-face{font-family:GDS Transport[^}]*}//g' \
    -e 's/font-family:GDS Transport,arial,sans-serif/font-family:arial,sans-serif/g' \
    -e 's/font-family:GDS Transport/font-family:arial,sans-serif/g' \
    -e 's#/\*\# sourceMappingURL=[^*]*\*/##' \
    govuk/package/dist/govuk/govuk-frontend.min.css > "$out/govuk-frontend/govuk-frontend.min.css"
sed -e 's#//\# sourceMappingURL=.*##' govuk/package/dist/govuk/govuk-frontend.min.js > "$out/govuk-frontend/govuk-frontend.min.js"
cp htmx/package/dist/htmx.min.js "$out/htmx/htmx.min.js"
cp htmx/package/LICENSE "$out/htmx/LICENSE"
echo "Vendored govuk-frontend $GOVUK_VERSION and htmx.org $HTMX_VERSION"
