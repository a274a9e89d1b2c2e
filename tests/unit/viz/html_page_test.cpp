// The HTML pages of imret report: text is escaped, paths are links, tables mark the best.
#include <gtest/gtest.h>

#include "imret/viz/html_page.hpp"

using imret::viz::HtmlPage;

TEST(HtmlPage, EscapesTextEverywhere) {
  EXPECT_EQ(imret::viz::html_escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
  HtmlPage page("<title> & co");
  page.heading(1, "run <1>");
  page.paragraph("x < y");
  page.table({"<h>"}, {{"<td>"}});
  page.figures({{"a.png", "caption <b>", ""}}, 100);
  page.preformatted("key: <value>");
  const std::string html = page.str();
  EXPECT_NE(html.find("<title>&lt;title&gt; &amp; co</title>"), std::string::npos);
  EXPECT_NE(html.find("<h1>run &lt;1&gt;</h1>"), std::string::npos);
  EXPECT_NE(html.find("<p>x &lt; y</p>"), std::string::npos);
  EXPECT_NE(html.find("<th>&lt;h&gt;</th>"), std::string::npos);
  EXPECT_NE(html.find("<figcaption>caption &lt;b&gt;</figcaption>"), std::string::npos);
  EXPECT_NE(html.find("<pre>key: &lt;value&gt;</pre>"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
}

TEST(HtmlPage, PathsArePercentEncodedButAnchorsStayAnchors) {
  HtmlPage page("t");
  page.figures({{"runs/run #2/map pca.png", "c", ""}}, 100);
  page.links({{"Metrics", "#metrics"}, {"run #2", "runs/run #2/index.html"}});
  const std::string html = page.str();
  EXPECT_NE(html.find("src=\"runs/run%20%232/map%20pca.png\""), std::string::npos);
  EXPECT_NE(html.find("href=\"#metrics\""), std::string::npos);
  EXPECT_NE(html.find("href=\"runs/run%20%232/index.html\""), std::string::npos);
}

TEST(HtmlPage, TablesRightAlignNumbersAndMarkTheBestCells) {
  HtmlPage page("t");
  page.table({"run", "mAP"}, {{"a", "0.9140"}, {"b", "0.8000"}}, {{false, true}, {false, false}});
  const std::string html = page.str();
  EXPECT_NE(html.find("<td class=\"num best\">0.9140</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\">0.8000</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>a</td>"), std::string::npos);
}
