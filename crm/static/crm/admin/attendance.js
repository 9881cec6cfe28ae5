// The attendance page (点名): "everyone checked in" ticks the 已签到 radio button of every row.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
    const button = document.getElementById("crm-all-checked");
    if (!button) {
        return;
    }
    button.addEventListener("click", function () {
        const form = document.getElementById("crm-attendance");
        form.querySelectorAll('input[type="radio"][value="' + button.dataset.value + '"]').forEach(function (radio) {
            radio.checked = true;
        });
    });
});
