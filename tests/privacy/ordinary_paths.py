"""Paths that carry nothing personal, as sites of every kind serve them: the false-positive corpus.

Blogs, docs, shops, news, wikis, package indexes, APIs and static assets, in several languages,
with slugs, file names, versions and years, and the sample log's pages without their ids. All-digit
segments other than years are left out: every number is an id by design. No segment
here should become a placeholder; tests/test_url_classes.py states how many do.
"""

from __future__ import annotations

from bench import sample

_BLOG = """
/ /index.html /index.php /about /about-us /about/team/ /contact /pricing /features /faq /terms /privacy-policy
/blog/ /blog/page/two /blog/category/engineering /blog/tag/kubernetes /blog/2023/ /blog/2024/
/blog/how-we-cut-our-aws-bill-in-half /blog/introducing-dark-mode /blog/why-we-moved-to-postgresql
/blog/a-gentle-introduction-to-kafka-streams /blog/10-tips-for-better-sleep /blog/the-state-of-css-2024
/blog/what-is-a-service-mesh /blog/announcing-version-3 /blog/year-in-review-2023 /blog/hello-world
/2019/06/my-first-marathon /2021/12/best-books-of-the-year /archive/2022 /archive/2024-05
/news/local/city-council-approves-new-budget /news/world/europe/elections-results-live
/recipes/easy-chocolate-chip-cookies /recipes/vegetarian/lentil-soup-with-lemon /travel/weekend-in-lisbon
/posts/understanding-rust-lifetimes /posts/react-hooks-explained /posts/intro-to-webassembly
/articles/machine-learning-for-beginners /articles/how-to-write-a-cover-letter /stories/behind-the-scenes
/podcast/episode-42-the-future-of-remote-work /events/pycon-2024 /events/kubecon-europe-2023/schedule
/fr/blog/comment-bien-choisir-son-velo /fr/actualites/la-rentree-scolaire /de/ratgeber/versicherung-vergleichen
/de/produkte/rechtsschutzversicherung /de/karriere/stellenangebote /es/noticias/el-tiempo-en-madrid
/it/ricette/pasta-alla-carbonara /nl/nieuws/verkiezingen-uitslag /pl/aktualnosci/nowe-przepisy-drogowe
/sv/nyheter/vadret-i-stockholm /pt-br/artigos/como-aprender-ingles /ja/about /zh-cn/docs/quickstart
/category/uncategorized /tag/javascript /author-guidelines /wp-content/themes/twentytwentyfour/style.css
/wp-content/plugins/contact-form-7/includes/js/index.js /wp-includes/js/jquery/jquery.min.js
/wp-admin/admin-ajax.php /wp-json/wp/v2/posts /feed/ /comments/feed/ /xmlrpc.php /sitemap_index.xml
/page-sitemap.xml /post-sitemap.xml /wp-content/uploads/2024/01/header-image.jpg
/wp-content/uploads/2023/11/team-photo-scaled.jpeg /wp-content/uploads/2022/05/logo-transparent.png
"""

_DOCS = """
/docs /docs/ /docs/getting-started /docs/installation /docs/configuration/advanced /docs/api/reference
/docs/guides/deploying-to-production /docs/tutorials/build-your-first-app /docs/faq/troubleshooting
/docs/v2/migration-guide /docs/3.11/library/asyncio-task.html /3.12/library/functions.html /3.12/tutorial/index.html
/en/stable/quickstart.html /en/latest/api.html /en/latest/changelog.html /en-US/docs/Web/JavaScript/Reference
/en-US/docs/Web/API/Fetch_API/Using_Fetch /en-US/docs/Web/CSS/grid-template-columns
/en-US/docs/Web/HTML/Element/input /en-US/docs/Learn/JavaScript/First_steps /wiki/Main_Page
/wiki/JavaScript /wiki/Python_(programming_language) /wiki/United_States /wiki/World_War_II
/wiki/Help:Contents /wiki/Special:Search /wiki/Category:Programming_languages /wiki/iPhone /wiki/HTML5
/wiki/Windows10 /wiki/TypeScript /wiki/PostgreSQL /wiki/MySQL /wiki/GitHub /wiki/WebAssembly
/manual/en/function.array-map.php /reference/api/pandas.DataFrame.groupby.html
/docs/reference/kubectl/cheatsheet /docs/concepts/workloads/pods/ /docs/tasks/run-application/
/book/ch04-01-what-is-ownership.html /book/appendix-01-keywords.html /std/collections/struct.HashMap.html
/api/latest/org/apache/kafka/clients/consumer/KafkaConsumer.html /javadoc/java/util/HashMap.html
/guide/en/elasticsearch/reference/current/query-dsl.html /spec/v1.1/index.html /rfc/rfc7231.html
/learn/courses/introduction-to-sql /tutorials/python/list-comprehensions /handbook/engineering/on-call
/docs/HelloWorld /docs/GettingStarted /docs/UserGuide /docs/ReleaseNotes /docs/QuickStartGuide
/man/man1/grep.1.html /man/man5/crontab.5.html /howto/logging-cookbook.html /whatsnew/3.12.html
/changelog /CHANGELOG.md /README.md /LICENSE /CONTRIBUTING.md /SECURITY.md /CODE_OF_CONDUCT.md
"""

_SHOP = """
/shop /shop/ /store /cart /checkout /checkout/shipping /checkout/payment /account /account/orders
/account/settings /account/addresses /wishlist /login /logout /register /forgot-password /search
/collections/all /collections/summer-sale /collections/mens-running-shoes /collections/new-arrivals
/products/classic-white-t-shirt /products/organic-cotton-hoodie-navy /products/iphone-15-pro-case
/products/usb-c-charging-cable-2m /products/wireless-earbuds-pro /products/coffee-beans-ethiopia-yirgacheffe
/product/stainless-steel-water-bottle-750ml /p/ergonomic-office-chair /c/laptops /c/smartphones/android
/category/home-and-garden/outdoor-furniture /categories/books/science-fiction /brands/patagonia
/gift-cards /shipping-returns /size-guide /store-locator /stores/paris-opera /sale /clearance
/deals/black-friday /de/kaufen/laufschuhe-herren /fr/boutique/chaussures-femme /es/tienda/ofertas
/electronics/tv-video/televisions /kitchen/small-appliances/blenders /toys/lego/lego-technic
/shoes/nike-air-max-90 /watches/apple-watch-series-9 /laptops/macbook-air-m2 /phones/galaxy-s24-ultra
/gaming/playstation-5-console /gaming/xbox-series-x /cameras/canon-eos-r6 /audio/sony-wh-1000xm5
/tv/lg-oled-c3-65-inch /books/the-pragmatic-programmer /music/vinyl/pink-floyd-the-wall
"""

_APP = """
/api /api/ /api/v1/status /api/v2/items /api/v2/orders /api/v1/health /api/graphql /graphql
/api/v3/repos /api/v1/search/suggestions /api/internal/metrics /api/v2/events/stream /oauth/authorize
/oauth/token /auth/login /auth/callback /auth/logout /sso/saml /.well-known/openid-configuration
/.well-known/security.txt /.well-known/assetlinks.json /.well-known/apple-app-site-association
/health /healthz /readyz /livez /metrics /status /ping /version /robots.txt /favicon.ico /humans.txt
/ads.txt /sitemap.xml /manifest.json /manifest.webmanifest /service-worker.js /sw.js /browserconfig.xml
/apple-touch-icon.png /apple-touch-icon-precomposed.png /favicon-32x32.png /android-chrome-192x192.png
/dashboard /dashboard3 /dashboard/analytics /admin /admin/settings/general /settings/notifications
/settings/security/two-factor /notifications /inbox /messages /help /help/articles/reset-your-password
/support /support/contact-us /status/incidents /careers /careers/senior-backend-engineer /jobs/remote
/team /press /investors /legal/cookie-policy /legal/terms-of-service /accessibility /sitemap
/newsletter/subscribe /unsubscribe /download /downloads/windows /downloads/macos /downloads/linux
/releases /releases/latest /releases/tag/v2.4.1 /releases/download/v1.0.0/app-linux-amd64.tar.gz
/packages/express /package/lodash /project/requests /project/numpy/1.26.4 /simple/django/
/crates/serde /gems/rails /r/programming /r/AskReddit/top /trending /explore /topics/machine-learning
/marketplace/actions/setup-node /features/actions /pricing/enterprise /enterprise /customers /partners
/integrations/slack /integrations/github /webhooks /docs/webhooks/events /embed/widget.js
/en /de /fr /es /it /nl /pl /sv /ja /zh /pt-br /en-gb /fr-ca /de-at
"""

_STATIC = """
/static/css/site.css /static/js/app.js /static/css/main.min.css /static/js/vendor.bundle.js
/assets/css/style.css /assets/js/main.js /assets/img/logo.svg /assets/fonts/inter-var.woff2
/assets/fonts/Roboto-Regular.ttf /assets/fonts/OpenSans-Bold.woff /fonts/fontawesome-webfont.woff2
/js/jquery-3.6.0.min.js /js/jquery-ui-1.13.2.min.js /js/bootstrap.bundle.min.js /js/lodash.min.js
/js/modernizr-2.8.3.min.js /js/html5shiv.min.js /js/respond.min.js /js/analytics.js /js/gtag.js
/css/bootstrap-5.3.2.min.css /css/font-awesome-4.7.0.min.css /css/normalize.css /css/print.css
/img/hero-banner.webp /img/icons/arrow-right.svg /img/team/ceo-portrait.jpg /img/screenshots/dashboard.png
/images/logo@2x.png /images/logo-dark.svg /images/social/og-image.png /images/blog/kafka-architecture.png
/media/videos/product-demo.mp4 /media/podcast/episode-42.mp3 /media/reports/annual-report-2023.pdf
/files/whitepaper-zero-trust-security.pdf /files/brochure_2024_en.pdf /docs/user-manual-v3.2.pdf
/downloads/logstash-1.3.2-monolithic.jar /downloads/ubuntu-22.04.3-desktop-amd64.iso
/downloads/python-3.12.1-amd64.exe /downloads/node-v20.11.0-x64.msi /downloads/vlc-3.0.20-win64.exe
/dist/app.min.js /dist/styles.css /build/bundle.js /vendor/react/react.production.min.js
/npm/vue@3.4.15/dist/vue.global.js /ajax/libs/jquery/3.7.1/jquery.min.js /gh/twbs/bootstrap@5.3.2/dist/css/bootstrap.min.css
/day-4-data-sources.html /logstash-puppetconf-2012 /kibana-dashboard3.png /installing-windows-8-consumer-preview.html
/ec2_m1large_cost.png /84.html /INSTALLATIONGUIDES /images/ec2_m1large_cost.png /presentations/logstash-puppetconf-2012/
/blog/geekery/installing-windows-8-consumer-preview.html /reset.css /style.css?ver=6.4.2 /favicon.png
/uploads/2024/02/spring-collection-lookbook.jpg /thumbs/landscape-sunset-1920x1080.jpg
/video/720p/trailer-final.mp4 /audio/ringtones/classic-bell.m4a /maps/tiles/world-map.png
"""

_MORE_WORDS = """
/kubernetes/networking/ingress-controllers /terraform/modules/vpc /ansible/playbooks/webservers
/docker/images/nginx /devops/ci-cd/github-actions /security/owasp-top-ten /cloud/aws/lambda-functions
/data/pipelines/airflow-dags /ml/models/transformer-architecture /frontend/components/button-group
/backend/services/payment-gateway /mobile/ios/swiftui-navigation /mobile/android/jetpack-compose
/javascript/arrays/array-prototype-reduce /python/decorators/functools-wraps /golang/concurrency/goroutines
/rust/async/tokio-runtime /java/spring-boot/rest-controllers /csharp/linq/query-syntax /sql/joins/left-outer-join
/linux/commands/grep-examples /networking/tcp-handshake /databases/indexing/b-tree /algorithms/dynamic-programming
/math/linear-algebra/eigenvalues /physics/quantum-mechanics /chemistry/periodic-table /biology/photosynthesis
/history/ancient-rome /geography/mountains/himalaya /literature/shakespeare/hamlet /philosophy/stoicism
/health/nutrition/vitamin-d /fitness/workouts/full-body-routine /finance/investing/index-funds
/careers/interview-tips /education/online-learning /parenting/toddler-sleep /pets/dogs/golden-retriever
/sports/football/premier-league-table /sports/tennis/wimbledon-2024 /weather/forecast/london
/movies/top-rated /tv-shows/breaking-bad/season-5 /music/playlists/chill-vibes /games/reviews/zelda-tears-of-the-kingdom
/cars/reviews/tesla-model-3 /real-estate/apartments-for-rent /jobs/software-engineer-remote
/restaurants/best-pizza-in-naples /hotels/beachfront-resorts /flights/cheap-flights-to-tokyo
/photography/tips/golden-hour /art/impressionism/claude-monet /design/typography/variable-fonts
/gardening/vegetables/growing-tomatoes /diy/woodworking/build-a-bookshelf /crafts/knitting/beginner-scarf
/science/space/james-webb-telescope /technology/ai/large-language-models /business/startups/fundraising
/politics/elections/polls /environment/climate-change/carbon-capture /health/mental-health/mindfulness
/en/products/smartphones/galaxy /en/support/manuals /en/company/sustainability /en/investors/annual-reports
/de/unternehmen/nachhaltigkeit /de/service/kundendienst /fr/entreprise/developpement-durable
/es/empresa/sostenibilidad /it/azienda/sostenibilita /nl/bedrijf/duurzaamheid /pl/firma/zrownowazony-rozwoj
/sv/foretaget/hallbarhet /fr/guide/assurance-habitation /de/hilfe/haeufige-fragen /es/ayuda/preguntas-frecuentes
/strengths-and-weaknesses /thermodynamically-stable-compounds /uncharacteristically-quiet
/internationalization-guide /accessibility-statement /responsibilities /characteristics-of-good-design
/Wissenschaftskommunikation /Bundesverfassungsgericht /Geschwindigkeitsbegrenzung /Rechtsschutzversicherungen
/przedsiebiorczosc /wspolpraca-miedzynarodowa /szczegolowe-informacje /ondernemingsraad /verantwoordelijkheid
/konsumentverket /forsakringskassan /developpement-personnel /responsabilite-societale /entrepreneurship
/HowToGuides /FrequentlyAskedQuestions /GettingStartedWithKafka /MyAccount /OrderHistory /ShoppingCart
/iPhone15ProMax /iPadAir /MacBookPro /AirPods /PlayStation5 /Windows11 /Office365 /Xbox360 /Nintendo3DS
/HTML5Boilerplate /OAuth2Login /WebGL2Demo /ES6Features /CSS3Animations /Python3Tutorial /NodeJS18
"""


def ordinary_paths() -> list[str]:
    """The corpus, each path once; the sample log's own pages included (those without ids or tokens)."""
    paths = [p for block in (_BLOG, _DOCS, _SHOP, _APP, _STATIC, _MORE_WORDS) for p in block.split()]
    paths += [page for page in sample._PAGES if "{" not in page]
    return list(dict.fromkeys(paths))
