#!/usr/bin/env bash
# Install (or with --uninstall remove) Workbench's desktop entry and icon for the current user,
# under ${XDG_DATA_HOME:-~/.local/share}. The entry starts this checkout's
# .venv/bin/workbench-gui by its absolute path, so run packaging/setup.sh first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications"
icons="$data/icons/hicolor"
entry="$apps/workbench.desktop"

refresh() {
  # Menus pick the change up by themselves on most desktops; these just make it immediate.
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$apps" || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$icons" || true
}

if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$entry" "$icons/256x256/apps/workbench.png" "$icons/scalable/apps/workbench.svg"
  refresh
  echo "Removed the Workbench desktop entry and icon from $data"
  exit 0
elif [ "$#" -gt 0 ]; then
  echo "usage: $0 [--uninstall]" >&2
  exit 2
fi

exe="$root/.venv/bin/workbench-gui"
if [ ! -x "$exe" ]; then
  echo "warning: $exe does not exist yet; run packaging/setup.sh to create it" >&2
fi

install -d "$apps" "$icons/256x256/apps" "$icons/scalable/apps"
install -m 644 "$here/icons/workbench.png" "$icons/256x256/apps/workbench.png"
install -m 644 "$here/icons/workbench.svg" "$icons/scalable/apps/workbench.svg"

# Desktop-entry quoting: a path with spaces or specials goes in double quotes, with
# backslash, double quote, backtick and dollar escaped by a backslash; then the string-value
# escaping doubles every backslash (the spec's "four backslashes for one").
quoted="$exe"
case "$exe" in
  *[[:space:]\"\`\$\\]*)
    escaped="$(printf '%s' "$exe" | sed -e 's/[\\"`$]/\\&/g' -e 's/\\/\\\\/g')"
    quoted="\"$escaped\""
    ;;
esac
tmp="$(mktemp "$apps/.workbench.desktop.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    Exec=*) printf 'Exec=%s %%f\n' "$quoted" ;;
    TryExec=*) printf 'TryExec=%s\n' "$exe" ;;
    *) printf '%s\n' "$line" ;;
  esac
done < "$here/workbench.desktop" > "$tmp"
chmod 644 "$tmp"
mv "$tmp" "$entry"
trap - EXIT

if command -v desktop-file-validate >/dev/null 2>&1; then
  desktop-file-validate "$entry" || echo "warning: desktop-file-validate reported problems" >&2
fi
refresh
echo "Installed $entry (Exec=$quoted %f) and the Workbench icon under $icons"
