// Every page: the project switcher submits when a project is picked (here, not in an inline
// onchange=: the Content-Security-Policy runs no inline script).
document.querySelectorAll("form.project select[name=project_id]").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});
