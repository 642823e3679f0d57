// The one DOM lookup every module of the chat page uses: elements by id.
export const $ = (id) => document.getElementById(id);
