// The names the server's contract accepts, as the page checks them before asking (the server
// checks again): a room's name and a username.
import { config, fullMatch } from "./config.js";

export const isRoomName = fullMatch(config.roomPattern);
export const isUsername = fullMatch(config.usernamePattern);
