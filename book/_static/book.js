// Marks every sideways-scrolling table container whose content is wider than it is, so that
// book.css can shade its cut edge; run on load and whenever the window is resized.
function markWideTables() {
  document.querySelectorAll(".bd-article .pst-scrollable-table-container, .bd-article div.output.text_html")
    .forEach(el => el.classList.toggle("scroll-fade", el.scrollWidth > el.clientWidth + 1));
}
window.addEventListener("load", markWideTables);
window.addEventListener("resize", markWideTables);
