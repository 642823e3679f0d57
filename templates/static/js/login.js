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
  // Signed in already, in this tab or another (tabs share the sign-in; chat.js renews a token
  // that ran out while its refresh token holds).
  location.replace("chat.html");
}

function showError(message) {
  formError.textContent = message;
  formError.hidden = !message;
}

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
  submit("/login", credentials());
});
document.getElementById("register").addEventListener("click", () => submit("/register", credentials()));
document.getElementById("guest").addEventListener("click", () => submit("/guest"));
