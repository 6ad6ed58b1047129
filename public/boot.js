// Loads the WebAssembly UI. Kept out of index.html so the page needs no inline script.
import init from "/pkg/app.js";
init();
