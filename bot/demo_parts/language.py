"""`pmbot demo --language zh-CN`: the whole demo in Simplified Chinese, sample data included.

The feature demos seed their sample records in English; for a Chinese demo the project speaks
zh-CN (so every text comes from the zh-CN catalogues) and, once everything is seeded, every
sample text stored in the demo database is replaced by its Chinese version (`SAMPLES_ZH`, one
table of sentences, so a feature's demo module stays as it is). The few words a demo section
writes itself (its title, an empty-state line) are translated the same way.
A sample with no translation stays English; tests/unit/test_demo_language.py fails on one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String, Text, select, update
from sqlmodel import Session, SQLModel
from sqlmodel.sql.sqltypes import AutoString

ZH = "zh-CN"

SAMPLES_ZH: dict[str, str] = {
    # the project
    "Acme Web Shop": "Acme 网上商城",
    "Acme Ltd.": "Acme 有限公司",
    # requirements
    "Customers can pay with Alipay and WeChat Pay": "顾客可以用支付宝和微信支付付款",
    "Most of Acme's customers pay with their phones; card-only checkout loses them.":
        "Acme 的大部分顾客用手机付款；只支持银行卡的结账流程会流失这些顾客。",
    "- Alipay and WeChat Pay appear at checkout\n- A paid order is confirmed within 10 seconds\n"
    "- Refunds go back to the same wallet":
        "- 结账页面显示支付宝和微信支付\n- 付款后 10 秒内确认订单\n- 退款原路退回同一钱包",
    "Order confirmation e-mail in Chinese and English": "中英文订单确认邮件",
    "The e-mail follows the language the customer shopped in.": "邮件使用顾客购物时所用的语言。",
    "- Sent within 1 minute of payment\n- Subject and body in the shop language":
        "- 付款后 1 分钟内发出\n- 标题和正文使用商城的语言",
    "Guest checkout without an account": "无需注册即可结账",
    "Buy without registering; offer an account after payment.": "无需注册即可购买；付款后再邀请顾客注册。",
    "- No sign-up step before payment": "- 付款前没有注册步骤",
    "Wishlist shared with friends": "与好友分享心愿单",
    "Native iOS and Android apps": "原生 iOS 和 Android 应用",
    "The responsive web shop covers phones for the first release.": "首个版本由响应式网上商城覆盖手机用户。",
    "Please keep the e-mail address mandatory for the receipt.": "请保留邮箱地址为必填项，以便发送收据。",
    # milestones and change requests
    "Design sign-off": "设计确认",
    "Content migration": "内容迁移",
    "Beta release": "Beta 版发布",
    "Payment integration": "支付集成",
    "Go live": "正式上线",
    "Add PayPal at checkout": "结账时增加 PayPal",
    "Offer PayPal next to card payments.": "在银行卡支付之外提供 PayPal。",
    "A third of our customers ask for it.": "三分之一的顾客希望使用 PayPal。",
    "Worth it before the launch.": "值得在上线前完成。",
    "Newsletter pop-up on every page": "每个页面弹出订阅窗口",
    "Grow the mailing list.": "扩大邮件订阅名单。",
    "Hurts conversion; we suggest a footer sign-up instead.": "会降低转化率；我们建议改为页脚订阅。",
    "Agreed on the call: a footer sign-up instead.": "电话中已商定：改为页脚订阅。",
    "Product pages in German and French": "德语和法语商品页面",
    "Translate product pages; the client supplies the texts.": "翻译商品页面；文案由客户提供。",
    "Feasible; it moves the migration by two weeks.": "可行；内容迁移将推迟两周。",
    "Dark mode for the shop": "商城深色模式",
    "Requested in user testing.": "用户测试中提出的需求。",
    # risks and feedback
    "Payment provider retires its v2 API before our launch": "支付服务商将在我们上线前停用 v2 接口",
    "Build against v3 in a feature branch; ask the provider for the date.":
        "在功能分支中对接 v3；向服务商确认停用日期。",
    "Lead backend developer on leave for two weeks in December": "后端主力开发 12 月休假两周",
    "Pair on the order service now; document the deployment.": "现在就结对开发订单服务；写好部署文档。",
    "Product photos arrive late from the client": "客户提供的商品照片延迟送达",
    "Hosting costs above the estimate": "托管费用超出预算",
    "Reserved instances bought.": "已购买预留实例。",
    "The staging site was down twice this week and we could not show it to our board.":
        "预发布网站本周宕机两次，我们没能向董事会演示。",
    "The new checkout flow is lovely — our team tested it on their phones.":
        "新的结账流程非常好——我们的团队已在手机上试用过。",
    # client items
    "Product photos for the 40 best sellers": "40 款畅销商品的商品照片",
    "JPEG or PNG, at least 2000 px wide, on white.": "JPEG 或 PNG 格式，宽度至少 2000 像素，白色背景。",
    "Legal texts: imprint, privacy policy, terms": "法律文本：网站信息、隐私政策、服务条款",
    "Reviewed by Acme's lawyer.": "已由 Acme 的律师审阅。",
    "Alipay merchant account credentials": "支付宝商户账号信息",
    "Share them through the password manager, please.": "请通过密码管理器共享。",
    "Our lawyer is back on Monday.": "我们的律师周一回来。",
    # milestone acceptance
    "- The logo on mobile is blurry\n- Checkout button colour is off-brand":
        "- 手机上的标志显示模糊\n- 结账按钮的颜色不符合品牌规范",
    "The logo on mobile is blurry": "手机上的标志显示模糊",
    "Checkout button colour is off-brand": "结账按钮的颜色不符合品牌规范",
    "Final designs for home, product and checkout pages (desktop and mobile).":
        "首页、商品页和结账页的最终设计稿（桌面端和移动端）。",
    "Both fixed: sharp mobile logo, brand-green checkout button.": "两项均已修复：手机标志清晰，结账按钮改为品牌绿色。",
    "Clickable wireframes of all twelve pages.": "全部十二个页面的可点击线框图。",
    "Wireframes": "线框图",
    # capture from the conversation (issue 14): the client's message, and the requirement made of it
    "Could the invoice page also show our VAT number?": "发票页面能否同时显示我们的增值税号？",
    "Could the invoice page also show our VAT number? @pat.pm said it is a small change. "
    "Our accountant needs it on every PDF from January.":
        "发票页面能否同时显示我们的增值税号？@pat.pm 说这是个小改动。"
        "从 1 月起，我们的会计需要每份 PDF 上都有这个税号。",
    # the close-out report's retrospective (issue 16)
    "Weekly demos kept the client close to the work.": "每周演示让客户始终贴近项目进展。",
    "Agree on acceptance criteria before building.": "开发之前先商定验收标准。",
    # words the demo sections write themselves
    "Nothing to remind the PM of today.": "今天没有需要提醒项目经理的事项。",
    "<@U0CLIENT> (Acme Ltd.) in the client channel": "<@U0CLIENT>（Acme 有限公司）在客户频道中",
    ":memo: added by <@U0DEV> · :white_check_mark: by PM Bot":
        ":memo: 由 <@U0DEV> 添加 · :white_check_mark: 由 PM Bot 添加",
    "Reply in the thread:": "消息串中的回复：",
}

TITLES_ZH: dict[str, str] = {
    "Project settings (/project show)": "项目设置（/project show）",
    "Client intake message (pinned in the client channel)": "客户提交入口消息（置顶在客户频道）",
    "Requirements (/req list, as the PM sees it)": "需求（/req list，项目经理看到的样子）",
    "Confirmation request in the client channel": "客户频道中的确认请求",
    "The same kind of message after the client confirmed (updated in place)": "客户确认后的同一条消息（原地更新）",
    "Requirements document (/req export, Markdown; CSV alongside)": "需求文档（/req export，Markdown；另附 CSV）",
    "Milestones (/milestone list)": "里程碑（/milestone list）",
    "Change requests (/change list, as the PM sees them)": "变更请求（/change list，项目经理看到的样子）",
    "A change request awaiting the client's decision (client channel)": "等待客户决定的变更请求（客户频道）",
    "Risk register (/risk list)": "风险登记册（/risk list）",
    "Satisfaction prompt (posted in the client channel by /feedback ask)":
        "满意度调查（由 /feedback ask 发布在客户频道）",
    "Bad news for the PM (DM with a Resolve button)": "给项目经理的坏消息（带“标记为已处理”按钮的私信）",
    "Feedback results (/feedback list)": "反馈结果（/feedback list）",
    "Weekly digest, client channel": "周报，客户频道",
    "Weekly digest, internal channel": "周报，内部频道",
    "PM preview (DM before the digest is due)": "项目经理预览（周报发布前的私信）",
    "Today's reminders for the PM (DM)": "项目经理今天的提醒（私信）",
    "Client items (/client list all, as the team sees it)": "客户事项（/client list all，团队看到的样子）",
    "What we need from the client, posted in the client channel": "需要客户提供的内容，发布在客户频道",
    "The digest's “What we need from you” (an overdue item puts its milestone at risk)":
        "周报中的“需要您提供的内容”（逾期事项会使其里程碑有风险）",
    "A delivery awaiting the client's acceptance (client channel)": "等待客户验收的交付（客户频道）",
    "Milestones with their acceptance (/milestone list)": "里程碑及其验收（/milestone list）",
    "Acceptance record for invoicing (Markdown, by DM)": "用于开票的验收记录（Markdown，私信）",
    # capture from the conversation (issue 14)
    "A client's message captured with :memo: — the receipt in its thread":
        "用 :memo: 记录的客户消息——消息串中的回执",
    "What the person who reacted sees (only them)": "添加表情的人看到的内容（仅本人可见）",
    "The captured requirement in /req list, with its source": "记录下来的需求在 /req list 中的样子，附来源",
    # monthly and close-out reports (issue 16)
    "Monthly report, client channel (this month so far)": "月报，客户频道（本月截至目前）",
    "Monthly report, internal channel": "月报，内部频道",
    "Close-out report, internal channel (were the project closed now)": "结项报告，内部频道（假设项目现在结项）",
}

FRAME = {
    "en": ("PM Bot demo — sample project “{name}” in {url} (recreated on every run)\n",
           "Block Kit JSON written to {out}/ — paste a file into https://app.slack.com/block-kit-builder"),
    ZH: ("PM Bot 演示——示例项目“{name}”，数据库 {url}（每次运行都会重新创建）\n",
         "Block Kit JSON 已写入 {out}/——可将文件粘贴到 https://app.slack.com/block-kit-builder 查看"),
}


# digest chart (issue 16): the line for each picture the demo writes
PICTURE = {"en": "Picture written to {path}", ZH: "图片已写入 {path}"}


def sample_text(text: str, lang: str) -> str:
    """A sample text as the demo stores it in `lang`."""
    return SAMPLES_ZH.get(text, text) if lang == ZH else text


def title(text: str, lang: str) -> str:
    """A demo section's title in `lang`."""
    return TITLES_ZH.get(text, text) if lang == ZH else text


def _is_text(kind: Any) -> bool:
    return isinstance(kind, String | Text | AutoString)


def translate_records(session: Session) -> int:
    """Every stored sample text in Chinese: each string column of each table, value by value."""
    session.flush()
    changed = 0
    for table in SQLModel.metadata.sorted_tables:
        columns = [c for c in table.columns if _is_text(c.type) and not c.primary_key]
        for column in columns:
            for english, chinese in SAMPLES_ZH.items():
                result = session.execute(update(table).where(column == english).values({column.name: chinese}))
                changed += result.rowcount or 0
        for column in [c for c in table.columns if isinstance(c.type, JSON)]:
            key = [c for c in table.primary_key.columns]
            for row in session.execute(select(*key, column)).all():
                value = row[-1]
                translated = translate_blocks(value)
                if translated != value:
                    where = [c == v for c, v in zip(key, row[:-1], strict=True)]
                    session.execute(update(table).where(*where).values({column.name: translated}))
                    changed += 1
    session.expire_all()
    return changed


def translate_blocks(value: Any) -> Any:
    """Block Kit with any sample text a section wrote itself in Chinese."""
    if isinstance(value, dict):
        return {k: translate_blocks(v) for k, v in value.items()}
    if isinstance(value, list):
        return [translate_blocks(v) for v in value]
    if isinstance(value, str):
        return SAMPLES_ZH.get(value, value)
    return value
