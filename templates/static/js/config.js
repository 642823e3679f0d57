// The page's settings, rendered by build_site.py into a JSON block (data, never code).
const block = document.getElementById("wschat-config");
export const config = Object.freeze(JSON.parse(block.textContent));
