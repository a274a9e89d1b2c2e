#pragma once
// A small builder of self-contained HTML pages (inline style, pictures by
// relative path), for `imret report`. Every text given as `text` is escaped;
// only the `_html` functions take markup.
#include <string>
#include <vector>

namespace imret::viz {

// &, <, >, " and ' as entities.
std::string html_escape(const std::string& text);

struct Figure {
  std::string file;     // relative to the page
  std::string caption;  // text
  std::string link;     // where a click on the picture goes; empty: the picture itself
};

class HtmlPage {
 public:
  explicit HtmlPage(const std::string& title);

  void heading(int level, const std::string& text, const std::string& id = "");
  void paragraph(const std::string& text);
  void paragraph_html(const std::string& html);
  // A table; cells are text. `bold[r][c]` (when given) marks cells to emphasise.
  void table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
             const std::vector<std::vector<bool>>& bold = {});
  // Pictures side by side (they wrap), each with its caption; `width` pixels each.
  void figures(const std::vector<Figure>& figures, int width);
  void preformatted(const std::string& text);
  // A list of links: (text, href).
  void links(const std::vector<std::pair<std::string, std::string>>& links);

  // The whole document.
  std::string str() const;

 private:
  std::string title_;
  std::string body_;
};

}  // namespace imret::viz
