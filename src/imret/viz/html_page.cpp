#include "imret/viz/html_page.hpp"

#include <cctype>

namespace imret::viz {

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {
// Links and picture paths: escaped, and spaces and '#' percent-encoded (a run
// folder named "run #2" stays a file, not a fragment); "#id" stays an anchor.
std::string url(const std::string& path) {
  if (!path.empty() && path[0] == '#') return html_escape(path);  // an anchor on the page
  std::string encoded;
  for (const char c : path) {
    if (c == ' ')
      encoded += "%20";
    else if (c == '#')
      encoded += "%23";
    else if (c == '%')
      encoded += "%25";
    else if (c == '?')
      encoded += "%3F";
    else
      encoded += c;
  }
  return html_escape(encoded);
}

constexpr const char* kStyle = R"(
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222; margin: 2em auto; max-width: 1400px; padding: 0 1.5em; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3 { font-size: 1.1em; margin-top: 1.5em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.7em; text-align: left; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { font-weight: bold; }
figure { display: inline-block; vertical-align: top; margin: 0.5em 1em 1em 0; }
figure img { border: 1px solid #eee; max-width: 100%; height: auto; }
figcaption { font-size: 0.88em; color: #555; max-width: 100%; }
pre { background: #f7f7f7; border: 1px solid #e4e4e4; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
nav a { margin-right: 1em; }
.note { color: #666; font-style: italic; }
)";

bool numeric(const std::string& text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == 'e' || c == '+' || c == '%'))
      return false;
  }
  return true;
}

}  // namespace

HtmlPage::HtmlPage(const std::string& title) : title_(title) {}

void HtmlPage::heading(int level, const std::string& text, const std::string& id) {
  const std::string tag = "h" + std::to_string(level < 1 ? 1 : level > 4 ? 4 : level);
  body_ += "<" + tag + (id.empty() ? "" : " id=\"" + html_escape(id) + "\"") + ">" + html_escape(text) + "</" + tag + ">\n";
}

void HtmlPage::paragraph(const std::string& text) { body_ += "<p>" + html_escape(text) + "</p>\n"; }

void HtmlPage::paragraph_html(const std::string& html) { body_ += "<p>" + html + "</p>\n"; }

void HtmlPage::table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                     const std::vector<std::vector<bool>>& bold) {
  body_ += "<table>\n<tr>";
  for (const std::string& h : header) body_ += "<th>" + html_escape(h) + "</th>";
  body_ += "</tr>\n";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    body_ += "<tr>";
    for (std::size_t c = 0; c < rows[r].size(); ++c) {
      std::string classes;
      if (numeric(rows[r][c])) classes += "num";
      if (r < bold.size() && c < bold[r].size() && bold[r][c]) classes += classes.empty() ? "best" : " best";
      body_ += (classes.empty() ? "<td>" : "<td class=\"" + classes + "\">") + html_escape(rows[r][c]) + "</td>";
    }
    body_ += "</tr>\n";
  }
  body_ += "</table>\n";
}

void HtmlPage::figures(const std::vector<Figure>& figures, int width) {
  body_ += "<div>\n";
  for (const Figure& figure : figures) {
    const std::string link = figure.link.empty() ? figure.file : figure.link;
    body_ += "<figure style=\"width: " + std::to_string(width) + "px\"><a href=\"" + url(link) + "\"><img src=\"" +
             url(figure.file) + "\" width=\"" + std::to_string(width) + "\" alt=\"" + html_escape(figure.caption) +
             "\"></a><figcaption>" + html_escape(figure.caption) + "</figcaption></figure>\n";
  }
  body_ += "</div>\n";
}

void HtmlPage::preformatted(const std::string& text) { body_ += "<pre>" + html_escape(text) + "</pre>\n"; }

void HtmlPage::links(const std::vector<std::pair<std::string, std::string>>& links) {
  body_ += "<nav>";
  for (const auto& [text, href] : links) body_ += "<a href=\"" + url(href) + "\">" + html_escape(text) + "</a>";
  body_ += "</nav>\n";
}

std::string HtmlPage::str() const {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + html_escape(title_) +
         "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n" + body_ + "</body>\n</html>\n";
}

}  // namespace imret::viz
