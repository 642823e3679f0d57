// The login page: log in, register, or continue as a guest; then go to the chat.
import { postJson } from "./api.js";
import { currentLogin, isExpired, saveLogin } from "./session.js";

const form = document.getElementById("login-form");
const username = document.getElementById("username");
const password = document.getElementById("password");
const formError = document.getElementById("form-error");
const notice = document.getElementById("notice");
const buttons = document.querySelectorAll("button");

// ?reason= from the chat page (session.js loginUrl, sessionEndUrl).
const REASONS = {
  expired: "Your session expired. Please log in again.",
  limit: "Your session limit was reached. Please log in again.",
  // A guest has no account to log back into: say what a guest can do (chat/sign_in.js sends this).
  "guest-ended": "Your guest session has ended: guests can chat for a limited time. "
    + "Continue as a guest again for a new session, or register an account to chat without a time limit.",
  signin: "Please log in to chat.",
  logout: "You are logged out.",
  "logout-unconfirmed": "You are logged out on this device, but the server did not confirm the logout: "
    + "your session may stay valid until it expires.",
};

const reason = new URLSearchParams(location.search).get("reason");
if (reason && Object.hasOwn(REASONS, reason)) {
  notice.textContent = REASONS[reason];
  notice.hidden = false;
} else if (!isExpired(currentLogin()) || currentLogin()?.refreshToken) {
  // Signed in already, in this tab or another (tabs share the sign-in; chat/sign_in.js renews a token
  // that ran out while its refresh token holds).
  location.replace("chat.html");
}

function showError(message) {
  formError.textContent = message;
  formError.hidden = !message;
}

// An empty field is marked where it is (aria-invalid and a message tied to it by
// aria-describedby), rather than sent to the server to come back as "invalid username or password".
const FIELDS = [
  { input: username, error: document.getElementById("username-error"), empty: "Enter your username." },
  { input: password, error: document.getElementById("password-error"), empty: "Enter your password." },
];

function markField(field, message) {
  field.error.textContent = message;
  field.error.hidden = !message;
  if (message) field.input.setAttribute("aria-invalid", "true");
  else field.input.removeAttribute("aria-invalid");
}

// True when every field has something in it; otherwise marks the empty ones and focuses the first.
function fieldsFilled() {
  const empty = FIELDS.filter((field) => !field.input.value.trim());
  FIELDS.forEach((field) => markField(field, empty.includes(field) ? field.empty : ""));
  if (empty.length) empty[0].input.focus();
  return !empty.length;
}

FIELDS.forEach((field) => field.input.addEventListener("input", () => {
  if (field.input.value.trim()) markField(field, "");
}));

async function submit(path, body) {
  showError("");
  buttons.forEach((button) => { button.disabled = true; });
  const { ok, data } = await postJson(path, body);
  buttons.forEach((button) => { button.disabled = false; });
  if (ok && data.token) {
    saveLogin(data);
    location.assign("chat.html");
  } else {
    showError(data.error || "something went wrong; try again");
  }
}

function credentials() {
  return { username: username.value.trim(), password: password.value };
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  showError("");
  if (fieldsFilled()) submit("/login", credentials());
});
document.getElementById("register").addEventListener("click", () => {
  showError("");
  if (fieldsFilled()) submit("/register", credentials());
});
document.getElementById("guest").addEventListener("click", () => submit("/guest"));
