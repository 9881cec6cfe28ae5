// Our own button and file name, in the page's language, over the browser's file input.
// A static file, not an inline script: the Content-Security-Policy allows scripts from 'self' only.
document.querySelectorAll(".crm-file input[type=file]").forEach(function (input) {
  input.addEventListener("change", function () {
    var name = input.files.length ? input.files[0].name : "";
    if (name) { input.parentNode.querySelector(".crm-file-name").textContent = name; }
  });
});
