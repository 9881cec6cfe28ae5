"use strict";
// A list filter offered as a drop-down (crm.admin.filters.SelectListFilterMixin): picking a choice shows
// the list filtered by it, as a click on a filter's link does. Loaded by each such filter: bound once.
if (!window.crmSelectFilterBound) {
    window.crmSelectFilterBound = true;
    document.addEventListener("change", (event) => {
        const select = event.target.closest("select.crm-select-filter");
        if (select && select.value) {
            select.form.submit();
        }
    });
}
