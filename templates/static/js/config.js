// The page's settings and the server's rules (handler/protocol/contract.py client_contract()), rendered by
// build_site.py into a JSON block: data, never code. No pattern or limit is written anywhere else
// in the site, so the server and the page cannot drift apart.
const block = document.getElementById("wschat-config");
export const config = Object.freeze(JSON.parse(block.textContent));

// The contract's patterns are the body of an anchored regular expression. Compiled here exactly as
// browsers compile an input's pattern attribute (anchored, the v flag), so the script and the form
// accept the same values.
export function fullMatch(pattern) {
  const regex = new RegExp(`^(?:${pattern})$`, "v");
  return (value) => typeof value === "string" && regex.test(value);
}
